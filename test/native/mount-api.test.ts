import test from 'ava';
import { rootTest } from '../helpers/root';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { SystemError } from '../../src/errors';
import { closeQuietly } from '../../src/native/fd';
import {
  detachMountOfFd,
  isMountRoot,
  mountIdOf,
  mountIdsOf,
  moveMountTo,
  openTreeClone,
  setMountAttributes,
} from '../../src/native/mount-api';
import { findMountByIdInMountinfo } from '../../src/mounts/mountinfo';
import { callerNamespace, makeTree, mountOptionsAt, mountsBelow, openPath, removeTree } from '../idmap/fixture';

// Cloning and attaching mounts needs CAP_SYS_ADMIN in the initial namespaces.

let tree: string;
test.before(() => {
  tree = makeTree('mount-api');
});
test.after.always(() => removeTree(tree));

function scratch(name: string): { source: string; target: string } {
  const source = path.join(tree, name, 'source');
  const target = path.join(tree, name, 'target');
  fs.mkdirSync(source, { recursive: true });
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(source, 'marker'), name);
  return { source, target };
}

rootTest('a clone is a new detached mount rooted at the directory, and keeps its id once attached', (t) => {
  const { source, target } = scratch('clone');
  const sourceFd = openPath(source);
  const mountFd = openTreeClone(sourceFd, { recursive: false });
  const targetFd = openPath(target);
  try {
    t.true(isMountRoot(mountFd));
    t.false(isMountRoot(sourceFd));
    const before = mountIdsOf(mountFd);
    t.not(before.unique, mountIdOf(sourceFd));
    t.true(before.unique > 0n, 'kernel 6.18 has STATX_MNT_ID_UNIQUE');
    moveMountTo(mountFd, targetFd);
    t.deepEqual(mountIdsOf(mountFd), before);
    t.is(fs.readFileSync(path.join(target, 'marker'), 'utf8'), 'clone');
    t.is(findMountByIdInMountinfo(before.legacy)?.mountPoint, target);
  } finally {
    [sourceFd, mountFd, targetFd].forEach(closeQuietly);
  }
});

rootTest('attributes are applied and show in mountinfo', (t) => {
  const { source, target } = scratch('attributes');
  const sourceFd = openPath(source);
  const mountFd = openTreeClone(sourceFd, { recursive: false });
  const targetFd = openPath(target);
  try {
    setMountAttributes(mountFd, { readOnly: true, nosuid: true, nodev: true, noexec: true });
    moveMountTo(mountFd, targetFd);
    const options = mountOptionsAt(target);
    for (const option of ['ro', 'nosuid', 'nodev', 'noexec']) t.true(options.includes(option), option);
  } finally {
    [sourceFd, mountFd, targetFd].forEach(closeQuietly);
  }
});

rootTest('false never clears a restriction the clone inherited', (t) => {
  const { source, target } = scratch('inherit');
  // A read-only, nosuid bind mount of the source is what gets cloned.
  execFileSync('mount', ['--bind', '-o', 'ro,nosuid', source, source]);
  const sourceFd = openPath(source);
  const mountFd = openTreeClone(sourceFd, { recursive: false });
  const targetFd = openPath(target);
  try {
    setMountAttributes(mountFd, { readOnly: false, nosuid: false, nodev: true });
    moveMountTo(mountFd, targetFd);
    const options = mountOptionsAt(target);
    t.true(options.includes('ro'));
    t.true(options.includes('nosuid'));
    t.true(options.includes('nodev'));
  } finally {
    [sourceFd, mountFd, targetFd].forEach(closeQuietly);
  }
});

rootTest('detachMountOfFd unmounts the mount an fd holds, and refuses a non-root fd', (t) => {
  const { source, target } = scratch('detach');
  const sourceFd = openPath(source);
  const mountFd = openTreeClone(sourceFd, { recursive: false });
  const targetFd = openPath(target);
  try {
    moveMountTo(mountFd, targetFd);
    t.deepEqual(mountsBelow(target), [target]);
    const error = t.throws(() => detachMountOfFd(sourceFd), { instanceOf: SystemError });
    t.is(error?.code, 'EINVAL');
    detachMountOfFd(mountFd);
    t.deepEqual(mountsBelow(target), []);
    t.false(fs.existsSync(path.join(target, 'marker')));
  } finally {
    [sourceFd, mountFd, targetFd].forEach(closeQuietly);
  }
});

rootTest('a recursive clone carries submounts, a plain one does not', (t) => {
  const { source } = scratch('recursive');
  fs.mkdirSync(path.join(source, 'sub'));
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(source, 'sub')]);
  fs.writeFileSync(path.join(source, 'sub', 'inner'), 'x');
  const sourceFd = openPath(source);
  const fds: number[] = [sourceFd];
  try {
    for (const recursive of [true, false]) {
      const target = path.join(tree, 'recursive', `target-${recursive}`);
      fs.mkdirSync(target);
      const mountFd = openTreeClone(sourceFd, { recursive });
      const targetFd = openPath(target);
      fds.push(mountFd, targetFd);
      moveMountTo(mountFd, targetFd);
      t.is(fs.existsSync(path.join(target, 'sub', 'inner')), recursive, `recursive: ${recursive}`);
    }
  } finally {
    fds.forEach(closeQuietly);
  }
});

rootTest('the idmap can only be set while the mount is detached', (t) => {
  const { source, target } = scratch('idmap-attached');
  const sourceFd = openPath(source);
  const mountFd = openTreeClone(sourceFd, { recursive: false });
  const targetFd = openPath(target);
  const nsFd = callerNamespace();
  try {
    moveMountTo(mountFd, targetFd);
    const error = t.throws(() => setMountAttributes(mountFd, { idmapUserNamespaceFd: nsFd }), { instanceOf: SystemError });
    t.is(error?.code, 'EINVAL');
    const detached = openTreeClone(sourceFd, { recursive: false });
    t.notThrows(() => setMountAttributes(detached, { idmapUserNamespaceFd: nsFd }));
    closeQuietly(detached);
  } finally {
    [sourceFd, mountFd, targetFd, nsFd].forEach(closeQuietly);
  }
});
