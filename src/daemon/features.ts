// What the running kernel offers, probed once at start-up with the real
// operations (a feature is listed only if it actually worked here).
import fs from 'node:fs';
import os from 'node:os';
import { createUserNamespace } from '../native/userns';
import { namespaceFileHandlesSupported } from '../native/nsfs';
import { openTreeClone, setMountAttributes } from '../native/mount-api';
import { closeQuietly } from '../native/fd';
import { FOREIGN_UID_BASE, FOREIGN_UID_COUNT } from '../idmap/foreign-range';

export type Feature = 'user-namespaces' | 'idmapped-mounts' | 'namespace-file-handles' | 'loop-configure' | 'mount-api';

function probeUserNamespaces(): number | undefined {
  try {
    const map = [{ inside: 0, outside: FOREIGN_UID_BASE, count: FOREIGN_UID_COUNT }];
    return createUserNamespace({ ownerUid: 0, ownerGid: 0, uidMap: map, gidMap: map });
  } catch {
    return undefined;
  }
}

function probeIdmappedMounts(userns: number, scratchDir: string): boolean {
  let dirFd: number | undefined;
  let mountFd: number | undefined;
  try {
    dirFd = fs.openSync(scratchDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    mountFd = openTreeClone(dirFd, { recursive: false });
    setMountAttributes(mountFd, { idmapUserNamespaceFd: userns, nosuid: true, nodev: true });
    return true;
  } catch {
    return false;
  } finally {
    // A detached clone that is never attached dissolves on close.
    closeQuietly(mountFd);
    closeQuietly(dirFd);
  }
}

function loopConfigureAvailable(): boolean {
  // LOOP_CONFIGURE exists since 5.8; the control device must be there.
  const [major, minor] = os.release().split('.').map(Number);
  return fs.existsSync('/dev/loop-control') && (major > 5 || (major === 5 && minor >= 8));
}

export function detectFeatures(opts: { scratchDir: string }): Feature[] {
  const features: Feature[] = [];
  const userns = probeUserNamespaces();
  if (userns !== undefined) {
    features.push('user-namespaces');
    if (probeIdmappedMounts(userns, opts.scratchDir)) features.push('idmapped-mounts', 'mount-api');
    closeQuietly(userns);
  }
  if (namespaceFileHandlesSupported()) features.push('namespace-file-handles');
  if (loopConfigureAvailable()) features.push('loop-configure');
  return features;
}
