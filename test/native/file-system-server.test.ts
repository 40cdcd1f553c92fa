// mayWaitForServer on real mounts of this machine (test/native/block-stack.test.ts
// covers the device stacks this kernel cannot make). erofs mounted
// straight from a file has no block device at all: it reads the file,
// which may be on FUSE or NFS, and was once judged local for its magic.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { closeQuietly } from '../../src/native/fd';
import { fsMount } from '../../src/native/fsmount';
import { attachLoopDevice } from '../../src/native/loop';
import { detachMountOfFd, moveMountTo } from '../../src/native/mount-api';
import { mayWaitForServer } from '../../src/native/file-system-server';
import { makeErofs, makeExt4, tempDir, waitForNoLoopDevicesUnder } from '../helpers/images';

let dir: string;
test.before(() => {
  if (rootSkipReason) return;
  dir = tempDir('nsmountd-fs-server-');
});
test.after.always(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Attaches `mountFd` at a new directory of the test's own (private) mount namespace; gives an fd of its root. */
async function attached(mountFd: number, name: string, use: (rootFd: number) => void): Promise<void> {
  const at = path.join(dir, name);
  fs.mkdirSync(at);
  const atFd = fs.openSync(at, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    moveMountTo(mountFd, atFd);
  } finally {
    fs.closeSync(atFd);
  }
  const rootFd = fs.openSync(at, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    use(rootFd);
  } finally {
    detachMountOfFd(rootFd);
    fs.closeSync(rootFd);
    closeQuietly(mountFd);
  }
}

rootSerial('erofs mounted straight from a file may wait for a server', async (t) => {
  const image = makeErofs(dir, 'file.erofs', { files: { 'hello.txt': 'hello\n' } });
  await attached(fsMount({ fstype: 'erofs', source: image, readOnly: true }), 'erofs', (rootFd) => {
    t.is(fs.readFileSync(`/proc/self/fd/${rootFd}/hello.txt`, 'utf8'), 'hello\n', 'really mounted');
    t.true(mayWaitForServer(rootFd));
  });
});

rootSerial('ext4 on a loop device may wait for a server', async (t) => {
  const image = makeExt4(dir, 'loop.ext4', { sizeMiB: 8 });
  const imageFd = fs.openSync(image, 'r');
  let loopFd = -1;
  try {
    const loop = attachLoopDevice(imageFd, { offset: 0n, sizeLimit: 0n, readOnly: true });
    loopFd = loop.fd;
    await attached(fsMount({ fstype: 'ext4', source: `/dev/loop${loop.index}`, readOnly: true }), 'ext4', (rootFd) => {
      t.true(mayWaitForServer(rootFd));
    });
  } finally {
    closeQuietly(loopFd);
    fs.closeSync(imageFd);
  }
  await waitForNoLoopDevicesUnder(dir);
});

rootSerial('tmpfs never waits', async (t) => {
  await attached(fsMount({ fstype: 'tmpfs' }), 'tmpfs', (rootFd) => {
    t.false(mayWaitForServer(rootFd));
  });
});
