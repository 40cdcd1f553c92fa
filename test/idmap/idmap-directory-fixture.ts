// What the idmapDirectory tests share: one scratch tree per file with the
// caller's target user namespace, and the ways a test makes a source
// directory and idmaps it onto a target.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootSkipReason } from '../helpers/root';
import { closeQuietly } from '../../src/native/fd';
import { moveMountTo } from '../../src/native/mount-api';
import { idmapDirectory, type IdmapDirectoryRequest } from '../../src/idmap/idmap-directory';
import { CALLER, FOREIGN, callerNamespace, makeTree, openPath, removeTree } from './fixture';

// Cloning mounts, creating user namespaces and chowning to foreign ids all need root.

/** The file's scratch tree; set by useIdmapTree's before hook. */
export let tree: string;
/** The caller's target user namespace; set by useIdmapTree's before hook. */
export let targetNs: number;

/** Registers the hooks that make (and remove) tree and targetNs. */
export function useIdmapTree(): void {
  test.before(() => {
    tree = makeTree('idmap');
    if (!rootSkipReason) targetNs = callerNamespace();
  });
  test.after.always(() => {
    closeQuietly(targetNs);
    removeTree(tree);
  });
}

export interface Scratch {
  source: string;
  target: string;
  sourceFd: number;
}

/** A source directory owned by `owner` with a target next to it; closed by teardown. */
export function scratch(t: { teardown(fn: () => void): void; title: string }, owner: { uid: number; gid: number }): Scratch {
  const base = fs.mkdtempSync(path.join(tree, 'case-'));
  fs.chmodSync(base, 0o755);
  const source = path.join(base, 'source');
  const target = path.join(base, 'target');
  fs.mkdirSync(source);
  fs.mkdirSync(target);
  fs.chownSync(source, owner.uid, owner.gid);
  const sourceFd = openPath(source);
  t.teardown(() => closeQuietly(sourceFd));
  return { source, target, sourceFd };
}

export function request(s: Scratch, overrides: Partial<IdmapDirectoryRequest>): IdmapDirectoryRequest {
  return {
    directoryFd: s.sourceFd,
    callerUid: CALLER.uid,
    callerGid: CALLER.gid,
    mode: 'auto',
    readOnly: false,
    recursive: false,
    forceNosuidNodev: false,
    ...overrides,
  };
}

/** Idmaps and attaches at s.target; the mount itself is removed with the tree. */
export function mountAt(t: { teardown(fn: () => void): void }, s: Scratch, overrides: Partial<IdmapDirectoryRequest>) {
  const result = idmapDirectory(request(s, overrides));
  const targetFd = openPath(s.target);
  try {
    moveMountTo(result.mountFd, targetFd);
  } finally {
    closeQuietly(targetFd);
    closeQuietly(result.mountFd);
  }
  return result;
}

export function withSubmount(t: Parameters<typeof scratch>[0]): Scratch {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  const sub = path.join(s.source, 'sub');
  fs.mkdirSync(sub);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', sub]);
  fs.writeFileSync(path.join(sub, 'inner'), '');
  fs.chownSync(path.join(sub, 'inner'), FOREIGN + 1, FOREIGN + 1);
  return s;
}
