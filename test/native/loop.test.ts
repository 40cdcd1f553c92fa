import test from 'ava';
import { rootSerial, rootSkipReason } from '../helpers/root';
import fs from 'node:fs';
import path from 'node:path';
import { SystemError } from '../../src/errors';
import { closeQuietly } from '../../src/native/fd';
import { fsMount } from '../../src/native/fsmount';
import { attachLoopDevice } from '../../src/native/loop';
import { loopDevicesUnder, makeExt4, tempDir, waitForNoLoopDevicesUnder } from '../helpers/images';

// Loop devices and fsopen need CAP_SYS_ADMIN in the initial namespaces.
// Serial: each test asserts that no loop device backed by the shared
// directory is left, which a concurrent test's live mount would break.
const rootTest = rootSerial;

let dir: string;
let image: string;
test.before(() => {
  if (rootSkipReason) return;
  dir = tempDir('nsmountd-loop-');
  image = makeExt4(dir, 'fs.ext4', { sizeMiB: 16, files: { 'hello.txt': 'hello\n' } });
});
test.after.always(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function sysfs(index: number, name: string): string {
  return fs.readFileSync(`/sys/block/loop${index}/loop/${name}`, 'utf8').trim();
}

rootTest('attaches the caller fd with offset, size limit and autoclear', async (t) => {
  const fd = fs.openSync(image, 'r+');
  try {
    const loop = attachLoopDevice(fd, { offset: 4096n, sizeLimit: 8192n * 512n, readOnly: false });
    t.is(sysfs(loop.index, 'backing_file'), image);
    t.is(sysfs(loop.index, 'offset'), '4096');
    t.is(sysfs(loop.index, 'sizelimit'), String(8192 * 512));
    t.is(sysfs(loop.index, 'autoclear'), '1');
    t.is(fs.readFileSync(`/sys/block/loop${loop.index}/ro`, 'utf8').trim(), '0');
    closeQuietly(loop.fd);
    t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
  } finally {
    fs.closeSync(fd);
  }
});

rootTest('read-only attach makes a read-only device', async (t) => {
  const fd = fs.openSync(image, 'r');
  try {
    const loop = attachLoopDevice(fd, { readOnly: true });
    t.is(fs.readFileSync(`/sys/block/loop${loop.index}/ro`, 'utf8').trim(), '1');
    closeQuietly(loop.fd);
  } finally {
    fs.closeSync(fd);
  }
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('the device lives while its mount does and frees itself after', async (t) => {
  const fd = fs.openSync(image, 'r+');
  const loop = attachLoopDevice(fd, { readOnly: false });
  fs.closeSync(fd);
  const mountFd = fsMount({ fstype: 'ext4', source: loop.path, nosuid: true, nodev: true });
  closeQuietly(loop.fd);
  t.deepEqual(loopDevicesUnder(dir), [`loop${loop.index} -> ${image}`]);
  t.is(fs.readFileSync(path.join(`/proc/self/fd/${mountFd}`, 'hello.txt'), 'utf8'), 'hello\n');
  closeQuietly(mountFd);
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('a failed attach leaves no device configured', async (t) => {
  const error = t.throws(() => attachLoopDevice(987654, { readOnly: true }), { instanceOf: SystemError });
  t.is(error?.code, 'EBADF');
  const dirFd = fs.openSync(dir, 'r');
  try {
    t.throws(() => attachLoopDevice(dirFd, { readOnly: true }), { instanceOf: SystemError });
  } finally {
    fs.closeSync(dirFd);
  }
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('concurrent attaches each get their own device', async (t) => {
  const fd = fs.openSync(image, 'r');
  try {
    const loops = Array.from({ length: 8 }, () => attachLoopDevice(fd, { readOnly: true }));
    t.is(new Set(loops.map((l) => l.index)).size, loops.length);
    for (const loop of loops) closeQuietly(loop.fd);
  } finally {
    fs.closeSync(fd);
  }
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});
