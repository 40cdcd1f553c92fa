import test from 'ava';
import { rootSkipReason, rootTest } from '../helpers/root';
import fs from 'node:fs';
import { BadImage, NoMountablePartition, UnsupportedFileSystem } from '../../src/errors';
import { dissectImage } from '../../src/image/dissect';
import {
  TYPE_HOME,
  TYPE_LINUX_DATA,
  TYPE_ROOT_ARM64,
  TYPE_ROOT_X86_64,
  TYPE_SWAP,
  makeErofs,
  makeExt4,
  makeGpt,
  tempDir,
} from '../helpers/images';

// Building images with mkfs is fine unprivileged, but mkfs.ext4 -d keeps
// the owners of the source tree and the shared fixtures below are made as
// root by the other image tests; keep the whole file root-only for symmetry.

let dir: string;
let rootFs: string;
let homeFs: string;
test.before(() => {
  if (rootSkipReason) return;
  dir = tempDir('nsmountd-dissect-');
  rootFs = makeExt4(dir, 'root.ext4', { sizeMiB: 8, label: 'rootfs', files: { 'etc/os-release': 'ID=test\n' } });
  homeFs = makeExt4(dir, 'home.ext4', { sizeMiB: 8, label: 'homefs' });
});
test.after.always(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function dissectFile(path: string) {
  const fd = fs.openSync(path, 'r');
  try {
    return await dissectImage(fd, { sizeBytes: BigInt(fs.fstatSync(fd).size) });
  } finally {
    fs.closeSync(fd);
  }
}

rootTest('a bare filesystem is one partition designated root', async (t) => {
  const image = await dissectFile(rootFs);
  t.is(image.kind, 'filesystem');
  t.is(image.partitions.length, 1);
  t.like(image.partitions[0], { designator: 'root', fstype: 'ext4', label: 'rootfs', offset: 0n, size: 8n << 20n });
  t.regex(image.partitions[0].uuid ?? '', /^[0-9a-f-]{36}$/);
});

rootTest('erofs is recognized', async (t) => {
  const image = await dissectFile(makeErofs(dir, 'x.erofs', { files: { a: 'b' } }));
  t.like(image.partitions[0], { designator: 'root', fstype: 'erofs' });
});

rootTest('GPT partitions get DPS designators, offsets, sizes and attribute flags', async (t) => {
  const { image, partitions } = makeGpt(dir, 'gpt.img', [
    { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs, name: 'Root' },
    { type: TYPE_SWAP, sizeMiB: 1 },
    { type: TYPE_HOME, sizeMiB: 8, content: homeFs, attributeBits: [60, 63] },
  ]);
  const result = await dissectFile(image);
  t.is(result.kind, 'gpt');
  t.deepEqual(
    result.partitions.map((p) => [p.designator, p.partitionNumber, p.offset, p.size, p.fstype, p.label]),
    [
      ['root', 1, partitions[0].offset, partitions[0].size, 'ext4', 'rootfs'],
      ['home', 3, partitions[2].offset, partitions[2].size, 'ext4', 'homefs'],
    ],
  );
  t.like(result.partitions[0], { architecture: 'x86-64', partitionLabel: 'Root', readOnlyFlag: false, noAuto: false });
  t.like(result.partitions[1], { readOnlyFlag: true, noAuto: true });
  t.deepEqual(result.skipped.map((s) => [s.partitionNumber, s.partitionTypeUuid]), [[2, TYPE_SWAP]]);
});

rootTest('the native root wins over a foreign one, and the first of a type wins', async (t) => {
  const { image } = makeGpt(dir, 'multi.img', [
    { type: TYPE_ROOT_ARM64, sizeMiB: 8, content: homeFs },
    { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs },
    { type: TYPE_LINUX_DATA, sizeMiB: 8, content: rootFs },
    { type: TYPE_LINUX_DATA, sizeMiB: 8, content: homeFs },
  ]);
  const result = await dissectFile(image);
  const root = result.partitions.find((p) => p.designator === 'root');
  t.is(root?.partitionNumber, process.arch === 'arm64' ? 1 : 2);
  t.is(result.partitions.find((p) => p.designator === 'data')?.partitionNumber, 3);
  t.deepEqual(result.skipped.map((s) => s.partitionNumber).sort(), [process.arch === 'arm64' ? 2 : 1, 4].sort());
});

rootTest('a recognized but unsupported filesystem is named', async (t) => {
  const swap = `${dir}/swap.img`;
  fs.writeFileSync(swap, Buffer.alloc(1 << 20));
  require('node:child_process').execFileSync('mkswap', ['-q', swap]);
  const error = await t.throwsAsync(() => dissectFile(swap), { instanceOf: UnsupportedFileSystem });
  t.regex(error?.message ?? '', /holds swap/);
});

rootTest('a GPT without Linux partitions has no mountable partition', async (t) => {
  const { image } = makeGpt(dir, 'swaponly.img', [{ type: TYPE_SWAP, sizeMiB: 2 }]);
  const result = await dissectFile(image);
  t.deepEqual(result.partitions, []);
  t.is(result.skipped.length, 1);
});

rootTest('an empty file is a bad image', async (t) => {
  fs.writeFileSync(`${dir}/empty.img`, '');
  await t.throwsAsync(() => dissectFile(`${dir}/empty.img`), { instanceOf: BadImage, message: /empty/ });
});

rootTest('an MBR-only disk is refused as having no mountable partition', async (t) => {
  const image = `${dir}/mbr.img`;
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 4 << 20);
  require('node:child_process').execFileSync('sfdisk', ['--quiet', image], { input: 'label: dos\nstart=2048, type=83\n' });
  await t.throwsAsync(() => dissectFile(image), { instanceOf: NoMountablePartition, message: /"dos" table/ });
});

function filePosition(fd: number): number {
  return Number(/^pos:\s+(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]);
}

rootTest("dissection leaves the caller's file offset where it was", async (t) => {
  const { image } = makeGpt(dir, 'offset.gpt', [{ type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs }]);
  const fd = fs.openSync(image, 'r');
  try {
    fs.readSync(fd, Buffer.alloc(7), 0, 7, null);
    t.is(filePosition(fd), 7);
    t.is((await dissectImage(fd)).partitions[0].fstype, 'ext4');
    t.is(filePosition(fd), 7);
  } finally {
    fs.closeSync(fd);
  }
});
