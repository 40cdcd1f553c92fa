import test from 'ava';
import { rootSkipReason, rootTest } from '../helpers/root';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { BadFileDescriptor, InvalidArgument, NotOwner, NotSupported, WrongNamespace } from '../../src/errors';
import { closeQuietly } from '../../src/native/fd';
import { moveMountTo } from '../../src/native/mount-api';
import { createUserNamespace } from '../../src/native/userns';
import { idmapDirectory, type IdmapDirectoryRequest, type IdmapMode, type ResolvedIdmapMode } from '../../src/idmap/idmap-directory';
import { makeForeignDirectory } from '../../src/idmap/make-directory';
import {
  CALLER,
  CALLER_NAMESPACE_MAPS,
  callerNamespace,
  fdCount,
  FOREIGN,
  makeTree,
  mountOptionsAt,
  OTHER,
  openPath,
  ownerOf,
  ownerSeenFrom,
  removeTree,
  runAs,
  TARGET_BASE,
} from './fixture';

// Cloning mounts, creating user namespaces and chowning to foreign ids all need root.

let tree: string;
let targetNs: number;
test.before(() => {
  tree = makeTree('idmap');
  if (!rootSkipReason) targetNs = callerNamespace();
});
test.after.always(() => {
  closeQuietly(targetNs);
  removeTree(tree);
});

interface Scratch {
  source: string;
  target: string;
  sourceFd: number;
}

/** A source directory owned by `owner` with a target next to it; closed by teardown. */
function scratch(t: { teardown(fn: () => void): void; title: string }, owner: { uid: number; gid: number }): Scratch {
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

function request(s: Scratch, overrides: Partial<IdmapDirectoryRequest>): IdmapDirectoryRequest {
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
function mountAt(t: { teardown(fn: () => void): void }, s: Scratch, overrides: Partial<IdmapDirectoryRequest>) {
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

rootTest('foreign: foreign id F+k shows as k inside the target namespace and as its host id outside', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  fs.writeFileSync(path.join(s.source, 'file'), '');
  fs.chownSync(path.join(s.source, 'file'), FOREIGN + 5, FOREIGN + 7);
  const result = mountAt(t, s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  t.is(result.resolvedMode, 'foreign');
  t.deepEqual(result.idmap?.uidMap, [{ inside: FOREIGN, outside: TARGET_BASE, count: 65536 }]);

  t.is(ownerOf(path.join(s.target, 'file')), `${TARGET_BASE + 5}:${TARGET_BASE + 7}`);
  t.is(ownerSeenFrom(targetNs, path.join(s.target, 'file')), '5:7');
  t.is(ownerSeenFrom(targetNs, s.target), '0:0');
  // Without the mount the target namespace cannot map foreign ids at all.
  t.is(ownerSeenFrom(targetNs, path.join(s.source, 'file')), '65534:65534');
});

rootTest('foreign: what the target root creates through the mount lands on disk as foreign root', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  // So that a non-root id of the target may create entries too.
  fs.chmodSync(s.source, 0o777);
  mountAt(t, s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  runAs({ uid: TARGET_BASE, gid: TARGET_BASE }, 'mkdir', [path.join(s.target, 'made')]);
  runAs({ uid: TARGET_BASE + 1000, gid: TARGET_BASE + 1000 }, 'touch', [path.join(s.target, 'made-by-1000')]);
  t.is(ownerOf(path.join(s.source, 'made')), `${FOREIGN}:${FOREIGN}`);
  t.is(ownerOf(path.join(s.source, 'made-by-1000')), `${FOREIGN + 1000}:${FOREIGN + 1000}`);
});

rootTest('foreign: a host id outside the target cannot write through the mount', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  fs.chmodSync(s.source, 0o777);
  mountAt(t, s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  // Mode 777 lets it try; the id has no on-disk counterpart, so the kernel refuses (EOVERFLOW).
  t.throws(() => runAs(CALLER, 'touch', [path.join(s.target, 'by-caller')]));
  t.false(fs.existsSync(path.join(s.source, 'by-caller')));
});

rootTest('foreign on a directory made by makeForeignDirectory', (t) => {
  const parentFd = openPath(tree);
  const made = makeForeignDirectory(parentFd, 'made-foreign');
  closeQuietly(parentFd);
  t.teardown(() => closeQuietly(made));
  const target = path.join(tree, 'made-foreign-target');
  fs.mkdirSync(target);
  mountAt(t, { source: path.join(tree, 'made-foreign'), target, sourceFd: made }, { mode: 'auto', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  t.is(ownerSeenFrom(targetNs, target), '0:0');
});

rootTest('owner without a namespace: the owner shows as the caller and the caller writes as the owner', (t) => {
  for (const owner of [{ uid: FOREIGN, gid: FOREIGN }, OTHER]) {
    const s = scratch(t, owner);
    fs.writeFileSync(path.join(s.source, 'file'), '');
    fs.chownSync(path.join(s.source, 'file'), owner.uid, owner.gid);
    mountAt(t, s, { mode: 'owner' });
    t.is(ownerOf(s.target), `${CALLER.uid}:${CALLER.gid}`);
    t.is(ownerOf(path.join(s.target, 'file')), `${CALLER.uid}:${CALLER.gid}`);
    runAs(CALLER, 'touch', [path.join(s.target, 'new')]);
    t.is(ownerOf(path.join(s.source, 'new')), `${owner.uid}:${owner.gid}`);
  }
});

rootTest('owner with a namespace: the owner shows as the target root', (t) => {
  const s = scratch(t, OTHER);
  const result = mountAt(t, s, { mode: 'owner', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  t.deepEqual(result.idmap?.uidMap, [{ inside: OTHER.uid, outside: TARGET_BASE, count: 1 }]);
  t.is(ownerOf(s.target), `${TARGET_BASE}:${TARGET_BASE}`);
  t.is(ownerSeenFrom(targetNs, s.target), '0:0');
});

rootTest('a filesystem without idmapped mounts is NotSupported, not a bare errno', (t) => {
  const procFd = openPath('/proc');
  t.teardown(() => closeQuietly(procFd));
  const fdsBefore = fs.readdirSync('/proc/self/fd').length;
  t.throws(() => idmapDirectory({ ...request({ source: '/proc', target: '', sourceFd: procFd }, {}), mode: 'owner' }), {
    instanceOf: NotSupported,
    message: /does not support idmapped mounts/,
  });
  t.is(fs.readdirSync('/proc/self/fd').length, fdsBefore, 'the clone and the idmap namespace were closed');
});

rootTest('an already idmapped mount cannot be idmapped again: NotSupported', (t) => {
  const s = scratch(t, OTHER);
  mountAt(t, s, { mode: 'owner' });
  const idmappedFd = openPath(s.target);
  t.teardown(() => closeQuietly(idmappedFd));
  t.throws(() => idmapDirectory({ ...request(s, {}), directoryFd: idmappedFd, mode: 'owner' }), {
    instanceOf: NotSupported,
    message: /already|idmapped mount/,
  });
});

rootTest('identity: no idmap, ids as on disk', (t) => {
  const s = scratch(t, OTHER);
  const result = mountAt(t, s, { mode: 'identity' });
  t.is(result.idmap, undefined);
  t.is(ownerOf(s.target), `${OTHER.uid}:${OTHER.gid}`);
  t.false(mountOptionsAt(s.target).includes('idmapped'));
});

const autoResolves = test.macro({
  exec(t, owner: { uid: number; gid: number }, withNamespace: boolean, expected: ResolvedIdmapMode) {
    const s = scratch(t, owner);
    const result = mountAt(t, s, { mode: 'auto', userNamespaceMaps: withNamespace ? CALLER_NAMESPACE_MAPS : undefined });
    t.is(result.resolvedMode, expected);
  },
  title: (_ = '', owner: { uid: number }, withNamespace: boolean, expected: ResolvedIdmapMode) =>
    `auto on a directory of uid ${owner.uid} ${withNamespace ? 'with' : 'without'} a namespace is ${expected}`,
});
rootTest(autoResolves, { uid: FOREIGN, gid: FOREIGN }, true, 'foreign');
rootTest(autoResolves, { uid: FOREIGN + 100, gid: FOREIGN }, true, 'foreign');
rootTest(autoResolves, CALLER, false, 'owner');
rootTest(autoResolves, CALLER, true, 'owner');

const refused = test.macro({
  exec(t, setup: (s: Scratch, keep: (fd: number) => number) => Partial<IdmapDirectoryRequest>, expected: { instanceOf: new (...a: never[]) => Error; message: RegExp }) {
    const s = scratch(t, OTHER);
    const overrides = setup(s, (fd) => {
      t.teardown(() => closeQuietly(fd));
      return fd;
    });
    const before = fdCount();
    const error = t.throws(() => idmapDirectory(request(s, overrides)));
    t.true(error instanceof expected.instanceOf, `${error?.name}: ${error?.message}`);
    t.regex(error?.message ?? '', expected.message);
    t.is(fdCount(), before, 'no fd leaked');
  },
  title: (title = '') => `refused: ${title}`,
});
rootTest('auto on a directory of someone else', refused, () => ({ mode: 'auto' as IdmapMode }), {
  instanceOf: NotOwner,
  message: /neither the caller nor in the foreign range/,
});
rootTest('foreign without a namespace', refused, () => ({ mode: 'foreign' as IdmapMode }), {
  instanceOf: InvalidArgument,
  message: /needs a target user namespace/,
});
rootTest('an unknown mode', refused, () => ({ mode: 'bogus' as IdmapMode }), {
  instanceOf: InvalidArgument,
  message: /^mode: must be one of/,
});
const badDirectoryFd = test.macro({
  exec(t, make: (dir: string) => number, got: string) {
    const s = scratch(t, OTHER);
    const fd = make(s.source);
    t.teardown(() => closeQuietly(fd));
    const before = fdCount();
    t.throws(() => idmapDirectory(request(s, { directoryFd: fd, mode: 'identity' })), {
      instanceOf: BadFileDescriptor,
      message: `directory: ${got}`,
    });
    t.is(fdCount(), before);
  },
  title: (_ = '', _make: unknown, got: string) => `directory fd: ${got}`,
});
rootTest(badDirectoryFd, (dir) => {
  fs.writeFileSync(path.join(dir, 'f'), '');
  return fs.openSync(path.join(dir, 'f'), 'r');
}, 'expected a directory, got a regular file');
rootTest(badDirectoryFd, (dir) => {
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  return openPath(path.join(dir, 'fifo'));
}, 'expected a directory, got a pipe');
rootTest(badDirectoryFd, (dir) => {
  const server = net.createServer().listen(path.join(dir, 'sock'));
  const fd = openPath(path.join(dir, 'sock'));
  server.close();
  return fd;
}, 'expected a directory, got a socket');
rootTest(badDirectoryFd, () => fs.openSync('/dev/null', 'r'), 'expected a directory, got a character device');
rootTest(badDirectoryFd, () => {
  const fd = fs.openSync('/dev/null', 'r');
  fs.closeSync(fd);
  return 100_000;
}, 'not an open file descriptor');

rootTest('non-root callers always get nosuid,nodev; root only when asked', (t) => {
  const cases = [
    { caller: CALLER, force: false, expected: true },
    { caller: { uid: 0, gid: 0 }, force: false, expected: false },
    { caller: { uid: 0, gid: 0 }, force: true, expected: true },
  ];
  for (const c of cases) {
    const s = scratch(t, OTHER);
    const result = mountAt(t, s, { mode: 'identity', callerUid: c.caller.uid, callerGid: c.caller.gid, forceNosuidNodev: c.force });
    const options = mountOptionsAt(s.target);
    t.is(result.nosuidNodev, c.expected);
    t.is(options.includes('nosuid'), c.expected, JSON.stringify(c));
    t.is(options.includes('nodev'), c.expected, JSON.stringify(c));
  }
});

rootTest('readOnly gives a read-only mount', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  mountAt(t, s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS, readOnly: true });
  t.true(mountOptionsAt(s.target).includes('ro'));
  t.throws(() => fs.writeFileSync(path.join(s.target, 'x'), ''), { code: 'EROFS' });
});

function withSubmount(t: Parameters<typeof scratch>[0]): Scratch {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  const sub = path.join(s.source, 'sub');
  fs.mkdirSync(sub);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', sub]);
  fs.writeFileSync(path.join(sub, 'inner'), '');
  fs.chownSync(path.join(sub, 'inner'), FOREIGN + 1, FOREIGN + 1);
  return s;
}

rootTest('recursive idmaps submounts too', (t) => {
  const s = withSubmount(t);
  mountAt(t, s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS, recursive: true });
  const inner = path.join(s.target, 'sub', 'inner');
  t.is(ownerSeenFrom(targetNs, inner), '1:1');
  const options = mountOptionsAt(path.join(s.target, 'sub'));
  for (const option of ['idmapped', 'nosuid', 'nodev']) t.true(options.includes(option), option);
});

rootTest('without recursive, a tree with mounts below is refused for callers other than root: they stay covered', (t) => {
  const s = withSubmount(t);
  const before = fdCount();
  t.throws(() => idmapDirectory(request(s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS, recursive: false })), {
    instanceOf: InvalidArgument,
    message: /^recursive: .*mounts below/,
  });
  t.is(fdCount(), before);
});

rootTest('without recursive, root gets the directory without its submounts', (t) => {
  const s = withSubmount(t);
  mountAt(t, s, { mode: 'identity', callerUid: 0, callerGid: 0, recursive: false });
  t.true(fs.existsSync(path.join(s.target, 'sub')));
  t.false(fs.existsSync(path.join(s.target, 'sub', 'inner')));
});

rootTest('decisions use the fd: a directory renamed and replaced after opening is still the one mounted', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  fs.writeFileSync(path.join(s.source, 'original'), '');
  fs.renameSync(s.source, s.source + '.moved');
  fs.mkdirSync(s.source);
  fs.chownSync(s.source, CALLER.uid, CALLER.gid);
  const result = mountAt(t, s, { mode: 'auto', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  t.is(result.resolvedMode, 'foreign');
  t.true(fs.existsSync(path.join(s.target, 'original')));
});

rootTest('success leaks no fd beyond the returned mount', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  const before = fdCount();
  const result = idmapDirectory(request(s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS, recursive: true }));
  t.is(fdCount(), before + 1);
  closeQuietly(result.mountFd);
  t.is(fdCount(), before);
});
