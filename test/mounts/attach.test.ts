import test from 'ava';
import { rootTest } from '../helpers/root';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { AlreadyMounted, BadFileDescriptor, NotEmpty, NotFound, NotOwner, WrongNamespace } from '../../src/errors';
import { closeQuietly } from '../../src/native/fd';
import { mountIdOf, openTreeClone } from '../../src/native/mount-api';
import { attachMount, checkAttachTarget, detachAttachedMount } from '../../src/mounts/attach';
import { findMountByIdInMountinfo } from '../../src/mounts/mountinfo';
import { CALLER, fdCount, makeTree, mountsBelow, OTHER, openPath, removeTree } from '../idmap/fixture';

// Mounting needs CAP_SYS_ADMIN; the fixtures chown to other users.

let tree: string;
test.before(() => {
  tree = makeTree('attach');
});
test.after.always(() => removeTree(tree));

function directory(t: { teardown(fn: () => void): void }, owner: { uid: number; gid: number }): { dir: string; fd: number } {
  const dir = fs.mkdtempSync(path.join(tree, 'target-'));
  fs.chownSync(dir, owner.uid, owner.gid);
  const fd = openPath(dir);
  t.teardown(() => closeQuietly(fd));
  return { dir, fd };
}

/** A detached clone of a fresh source directory holding "marker". */
function detachedMount(t: { teardown(fn: () => void): void }): number {
  const source = fs.mkdtempSync(path.join(tree, 'source-'));
  fs.writeFileSync(path.join(source, 'marker'), '');
  const sourceFd = openPath(source);
  const mountFd = openTreeClone(sourceFd, { recursive: false });
  closeQuietly(sourceFd);
  t.teardown(() => closeQuietly(mountFd));
  return mountFd;
}

const refusedTarget = test.macro({
  exec(t, prepare: (dir: string) => void, callerUid: number, expected: { instanceOf: new (...a: never[]) => Error; message: string }) {
    const { dir, fd } = directory(t, CALLER);
    prepare(dir);
    const before = fdCount();
    t.throws(() => checkAttachTarget(fd, callerUid), expected);
    t.is(fdCount(), before);
  },
  title: (title = '') => `target refused: ${title}`,
});

rootTest('not empty', refusedTarget, (dir: string) => fs.writeFileSync(path.join(dir, 'x'), ''), CALLER.uid, {
  instanceOf: NotEmpty,
  message: 'the target directory is not empty',
});
rootTest('owned by someone else', refusedTarget, (dir: string) => fs.chownSync(dir, OTHER.uid, OTHER.gid), CALLER.uid, {
  instanceOf: NotOwner,
  message: `the target directory is owned by uid ${OTHER.uid}, not by the caller`,
});
rootTest('target refused: a regular file', (t) => {
  const file = path.join(tree, 'file-target');
  fs.writeFileSync(file, '');
  const fd = openPath(file);
  t.teardown(() => closeQuietly(fd));
  t.throws(() => checkAttachTarget(fd, CALLER.uid), {
    instanceOf: BadFileDescriptor,
    message: 'target: expected a directory, got a regular file',
  });
});

rootTest('target refused: already a mount point (fd of the mount root)', (t) => {
  const { dir } = directory(t, CALLER);
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', dir]);
  fs.chownSync(dir, CALLER.uid, CALLER.gid);
  const fd = openPath(dir);
  t.teardown(() => closeQuietly(fd));
  t.throws(() => checkAttachTarget(fd, CALLER.uid), { instanceOf: AlreadyMounted });
});

rootTest('target refused: mounted over after the fd was opened', (t) => {
  const { dir, fd } = directory(t, CALLER);
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', dir]);
  t.throws(() => checkAttachTarget(fd, CALLER.uid), { instanceOf: AlreadyMounted });
});

rootTest('target refused: a directory in another mount namespace', async (t) => {
  // A process in its own mount namespace with a tmpfs of its own; its
  // /proc/PID/root leads into that namespace's mounts.
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs other /mnt && mkdir /mnt/target && echo ready && exec sleep 60'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  const fd = openPath(`/proc/${child.pid}/root/mnt/target`);
  t.teardown(() => closeQuietly(fd));
  t.throws(() => checkAttachTarget(fd, 0), { instanceOf: WrongNamespace, message: /another mount namespace/ });
});

rootTest('target accepted: the caller owns an empty directory; root may use anyone\'s', (t) => {
  t.notThrows(() => checkAttachTarget(directory(t, CALLER).fd, CALLER.uid));
  t.notThrows(() => checkAttachTarget(directory(t, OTHER).fd, 0));
});

rootTest('attach, find in mountinfo, detach by fd', (t) => {
  const { dir } = directory(t, CALLER);
  const targetFd = openPath(dir);
  t.teardown(() => closeQuietly(targetFd));
  const mountFd = detachedMount(t);
  checkAttachTarget(targetFd, CALLER.uid);
  const ids = attachMount(mountFd, targetFd);
  t.true(fs.existsSync(path.join(dir, 'marker')));
  t.is(findMountByIdInMountinfo(ids.legacy)?.mountPoint, dir);

  // What a caller passes to Unmount: an fd opened on the mount point now.
  const rootFd = openPath(dir);
  t.teardown(() => closeQuietly(rootFd));
  t.is(mountIdOf(rootFd), ids.unique);
  detachAttachedMount({ targetFd: rootFd, expectedMountId: ids.unique });
  t.deepEqual(mountsBelow(dir), []);
  t.is(findMountByIdInMountinfo(ids.legacy), undefined);
});

rootTest('detach by path, as after a daemon restart', (t) => {
  const { dir, fd } = directory(t, CALLER);
  const ids = attachMount(detachedMount(t), fd);
  const before = fdCount();
  detachAttachedMount({ path: dir, expectedMountId: ids.unique });
  t.deepEqual(mountsBelow(dir), []);
  t.is(fdCount(), before);
});

rootTest('detach refuses a mount that is not the recorded one and leaves it mounted', (t) => {
  const { dir, fd } = directory(t, CALLER);
  const ids = attachMount(detachedMount(t), fd);
  // Someone stacked another mount on top: the path now shows that one.
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', dir]);
  t.throws(() => detachAttachedMount({ path: dir, expectedMountId: ids.unique }), { instanceOf: NotFound });
  // (Not unique + 1n: unique ids are handed out in sequence, that is the tmpfs.)
  t.throws(() => detachAttachedMount({ path: dir, expectedMountId: 1n }), { instanceOf: NotFound });
  t.is(mountsBelow(dir).length, 2);
  // The fd of the directory underneath is no mount root at all.
  t.throws(() => detachAttachedMount({ targetFd: fd, expectedMountId: ids.unique }), { instanceOf: NotFound });
  t.is(mountsBelow(dir).length, 2);
});

rootTest('detach of a path that does not exist is NotFound', (t) => {
  t.throws(() => detachAttachedMount({ path: path.join(tree, 'missing'), expectedMountId: 1n }), {
    instanceOf: NotFound,
    message: /does not exist/,
  });
});
