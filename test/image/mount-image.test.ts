import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { InvalidArgument, NoMountablePartition } from '../../src/errors';
import { closeQuietly } from '../../src/native/fd';
import { createUserNamespace } from '../../src/native/userns';
import { MiB, TYPE_HOME, TYPE_ROOT_X86_64, TYPE_SWAP, makeBtrfs, makeErofs, makeExt4, makeGpt, makeSquashfs, makeXfs, waitForNoLoopDevicesUnder } from '../helpers/images';
import { closeAll, dir, homeFs, isReadOnlyMount, mountFile, readThrough, rootFs, rootTest, useImageFiles } from './mount-image-fixture';

useImageFiles();

rootTest('bare ext4 mounts read-write and frees its loop device with the mount', async (t) => {
  const image = makeExt4(dir, 'rw.ext4', { files: { 'hello.txt': 'hello\n' } });
  const [mount, ...rest] = await mountFile(image);
  t.deepEqual(rest, []);
  t.like(mount, { designator: 'root', fstype: 'ext4', offset: 0n, size: 16n * BigInt(MiB), readOnly: false });
  t.is(readThrough(mount, 'hello.txt'), 'hello\n');
  t.false(isReadOnlyMount(mount));
  closeAll([mount]);
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('ReadOnly mounts ext4 read-only', async (t) => {
  const mounts = await mountFile(rootFs, { readOnly: true });
  t.true(mounts[0].readOnly);
  t.is(readThrough(mounts[0], 'etc/os-release'), 'ID=test\n');
  t.true(isReadOnlyMount(mounts[0]));
  closeAll(mounts);
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('an O_RDONLY image fd forces a read-only mount', async (t) => {
  const mounts = await mountFile(rootFs, { readOnly: false }, 'r');
  t.true(mounts[0].readOnly);
  t.true(isReadOnlyMount(mounts[0]));
  closeAll(mounts);
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

const mountsFilesystem = test.macro({
  async exec(t: ExecutionContext, build: () => string, fstype: string, expectReadOnly: boolean, file?: string) {
    const mounts = await mountFile(build());
    t.like(mounts[0], { designator: 'root', fstype, readOnly: expectReadOnly });
    if (file) t.is(readThrough(mounts[0], file), 'content\n');
    t.is(isReadOnlyMount(mounts[0]), expectReadOnly);
    closeAll(mounts);
    t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
  },
  title: (provided, _build, fstype: string) => `mounts a bare ${fstype} image ${provided ?? ''}`,
});

rootTest(mountsFilesystem, () => makeErofs(dir, 'a.erofs', { files: { f: 'content\n' } }), 'erofs', true, 'f');
rootTest(mountsFilesystem, () => makeSquashfs(dir, 'a.squashfs', { files: { f: 'content\n' } }), 'squashfs', true, 'f');
rootTest(mountsFilesystem, () => makeXfs(dir, 'a.xfs'), 'xfs', false);
rootTest(mountsFilesystem, () => makeBtrfs(dir, 'a.btrfs', { files: { f: 'content\n' } }), 'btrfs', false, 'f');
rootTest(mountsFilesystem, () => makeExt4(dir, 'a.ext2', { type: 'ext2', files: { f: 'content\n' } }), 'ext2', false, 'f');

rootTest('GPT root and home mount with their designators and ranges', async (t) => {
  const { image, partitions } = makeGpt(dir, 'roothome.img', [
    { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs },
    { type: TYPE_SWAP, sizeMiB: 1 },
    { type: TYPE_HOME, sizeMiB: 8, content: homeFs, attributeBits: [60] },
  ]);
  const mounts = await mountFile(image);
  t.deepEqual(
    mounts.map((m) => [m.designator, m.offset, m.size, m.label, m.readOnly]),
    [
      ['root', partitions[0].offset, partitions[0].size, 'rootfs', false],
      // GPT read-only attribute
      ['home', partitions[2].offset, partitions[2].size, 'homefs', true],
    ],
  );
  t.is(readThrough(mounts[0], 'etc/os-release'), 'ID=test\n');
  t.is(readThrough(mounts[1], 'alice/notes'), 'hi\n');
  closeAll(mounts);

  const onlyHome = await mountFile(image, { partitions: ['home'], readOnly: true });
  t.deepEqual(onlyHome.map((m) => m.designator), ['home']);
  closeAll(onlyHome);
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('an idmapped mount shows on-disk uid 0 as the namespace base', async (t) => {
  const BASE = 3_000_000;
  const userns = createUserNamespace({
    ownerUid: 0,
    ownerGid: 0,
    uidMap: [{ inside: 0, outside: BASE, count: 65536 }],
    gidMap: [{ inside: 0, outside: BASE, count: 65536 }],
  });
  try {
    const mounts = await mountFile(rootFs, { userNamespaceFd: userns, readOnly: true });
    const stat = fs.statSync(path.join(`/proc/self/fd/${mounts[0].mountFd}`, 'etc/os-release'));
    t.is(stat.uid, BASE);
    t.is(stat.gid, BASE);
    closeAll(mounts);
  } finally {
    closeQuietly(userns);
  }
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('mount options reach the filesystem and bad ones fail before any device', async (t) => {
  const mounts = await mountFile(rootFs, { readOnly: true, mountOptions: 'noatime,noexec' });
  closeAll(mounts);
  await t.throwsAsync(() => mountFile(rootFs, { mountOptions: 'errors=panic' }), { instanceOf: InvalidArgument });
  await t.throwsAsync(() => mountFile(rootFs, { mountOptions: 'commit=5,x\nerrors=panic' }), { instanceOf: InvalidArgument });
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('unknown or absent designators are refused', async (t) => {
  const unknown = await t.throwsAsync(() => mountFile(rootFs, { partitions: ['boot'] }), { instanceOf: InvalidArgument });
  t.is(unknown?.argument, 'options.Partitions');
  await t.throwsAsync(() => mountFile(rootFs, { partitions: ['home'] }), { instanceOf: NoMountablePartition });
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('20 concurrent mounts in separate processes leak nothing', async (t) => {
  const image = makeExt4(dir, 'shared.ext4', { files: { 'hello.txt': 'concurrent\n' } });
  const child = path.join(__dirname, 'mount-image-child.js');
  const run = promisify(execFile);
  const results = await Promise.all(
    Array.from({ length: 20 }, () => run(process.execPath, [child, image, 'hello.txt'])),
  );
  t.deepEqual(
    results.map((r) => r.stdout),
    Array.from({ length: 20 }, () => 'concurrent\n'),
  );
  t.deepEqual(await waitForNoLoopDevicesUnder(dir, 5000), []);
});
