// Floor cost of IdmapDirectory's kernel work, in-process, no D-Bus:
// open_tree(CLONE) [+ idmap namespace] + mount_setattr + close.
// Run as root: node dist/bench/idmap-floor.js [iterations]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeQuietly } from '../src/native/fd';
import { openTreeClone, setMountAttributes } from '../src/native/mount-api';
import { createUserNamespace } from '../src/native/userns';
import { O_PATH } from '../src/native/dirfd';
import { readUserNamespaceMaps } from '../src/native/nsfs';
import { idmapDirectory } from '../src/idmap/idmap-directory';
import { FOREIGN_UID_BASE, FOREIGN_UID_COUNT } from '../src/idmap/foreign-range';
import { lockMountFlags, prepareMountLocking } from '../src/mounts/lock';

const iterations = Number(process.argv[2] ?? 1000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-bench-'));
const dirFd = fs.openSync(dir, O_PATH);
const map = [{ inside: FOREIGN_UID_BASE, outside: 1_100_000, count: FOREIGN_UID_COUNT }];

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function measure(name: string, once: () => void): void {
  for (let i = 0; i < 50; i++) once(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    once();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const p90 = [...samples].sort((a, b) => a - b)[Math.floor(samples.length * 0.9)];
  console.log(`${name}: median ${median(samples).toFixed(3)} ms, p90 ${p90.toFixed(3)} ms (n=${iterations})`);
}

measure('open_tree + new idmap userns + mount_setattr(IDMAP,nosuid,nodev) + close', () => {
  const mountFd = openTreeClone(dirFd, { recursive: false });
  const nsFd = createUserNamespace({ ownerUid: 0, ownerGid: 0, uidMap: map, gidMap: map });
  setMountAttributes(mountFd, { idmapUserNamespaceFd: nsFd, nosuid: true, nodev: true });
  closeQuietly(nsFd);
  closeQuietly(mountFd);
});

const sharedNs = createUserNamespace({ ownerUid: 0, ownerGid: 0, uidMap: map, gidMap: map });
measure('open_tree + mount_setattr(IDMAP,nosuid,nodev) with a reused userns + close', () => {
  const mountFd = openTreeClone(dirFd, { recursive: false });
  setMountAttributes(mountFd, { idmapUserNamespaceFd: sharedNs, nosuid: true, nodev: true });
  closeQuietly(mountFd);
});

measure('createUserNamespace alone + close', () => {
  closeQuietly(createUserNamespace({ ownerUid: 0, ownerGid: 0, uidMap: map, gidMap: map }));
});

// What locking adds for callers other than root (docs/SECURITY.md): once
// per mount handed out, so once per IdmapDirectory and per Mount partition.
prepareMountLocking();
measure('open_tree + mount_setattr(nosuid,nodev) + close', () => {
  const mountFd = openTreeClone(dirFd, { recursive: false });
  setMountAttributes(mountFd, { nosuid: true, nodev: true });
  closeQuietly(mountFd);
});
measure('open_tree + mount_setattr(nosuid,nodev) + lockMountFlags + close', () => {
  const mountFd = openTreeClone(dirFd, { recursive: false });
  setMountAttributes(mountFd, { nosuid: true, nodev: true });
  closeQuietly(lockMountFlags(mountFd, { recursive: false }));
});

const target = [{ inside: 0, outside: 1_100_000, count: FOREIGN_UID_COUNT }];
const targetNs = createUserNamespace({ ownerUid: 61001, ownerGid: 61001, uidMap: target, gidMap: target });
for (const callerUid of [0, 61001]) {
  measure(`idmapDirectory (foreign, reads the target maps, nosuid/nodev${callerUid ? ', locked' : ''}) + close, caller ${callerUid}`, () => {
  const result = idmapDirectory({
    directoryFd: dirFd,
    callerUid,
    callerGid: callerUid,
    userNamespaceMaps: readUserNamespaceMaps(targetNs),
    mode: 'foreign',
    readOnly: false,
    recursive: false,
    forceNosuidNodev: true,
  });
  closeQuietly(result.mountFd);
  });
}

closeQuietly(targetNs);
closeQuietly(sharedNs);
closeQuietly(dirFd);
fs.rmSync(dir, { recursive: true, force: true });
