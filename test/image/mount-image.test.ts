import test, { type ExecutionContext } from 'ava';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  BadFileDescriptor,
  BadImage,
  InvalidArgument,
  NoMountablePartition,
  NsMountError,
  UnsupportedFileSystem,
} from '../../src/errors';
import { mountImage, type MountImageOptions, type MountedPartition } from '../../src/image/mount-image';
import { closeQuietly } from '../../src/native/fd';
import { createUserNamespace } from '../../src/native/userns';
import {
  GPT_ENTRY,
  GPT_HEADER,
  MiB,
  TYPE_HOME,
  TYPE_ROOT_X86_64,
  TYPE_SWAP,
  editGpt,
  makeBtrfs,
  makeErofs,
  makeExt4,
  makeGpt,
  makeSquashfs,
  makeXfs,
  tempDir,
  waitForNoLoopDevicesUnder,
} from '../helpers/images';

// Loop devices, fsopen and idmapped mounts need CAP_SYS_ADMIN in the
// initial namespaces.
// Serial: each test asserts that no loop device backed by the shared
// directory is left, which a concurrent test's live mount would break.
const rootTest = rootSerial;

let dir: string;
let rootFs: string;
let homeFs: string;
test.before(() => {
  if (rootSkipReason) return;
  dir = tempDir('nsmountd-mount-');
  rootFs = makeExt4(dir, 'root.ext4', { sizeMiB: 8, label: 'rootfs', files: { 'etc/os-release': 'ID=test\n' } });
  homeFs = makeExt4(dir, 'home.ext4', { sizeMiB: 8, label: 'homefs', files: { 'alice/notes': 'hi\n' } });
});
test.after.always(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function withImage<T>(image: string, flags: string | number, run: (fd: number) => T): T {
  const fd = fs.openSync(image, flags);
  try {
    return run(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function mountFile(image: string, options: Partial<MountImageOptions> = {}, flags: string | number = 'r+'): MountedPartition[] {
  return withImage(image, flags, (imageFd) => mountImage({ imageFd, readOnly: false, forceNosuidNodev: true, ...options }));
}

function readThrough(mount: MountedPartition, file: string): string {
  return fs.readFileSync(path.join(`/proc/self/fd/${mount.mountFd}`, file), 'utf8');
}

function closeAll(mounts: MountedPartition[]): void {
  for (const m of mounts) closeQuietly(m.mountFd);
}

/** A detached mount is in no mountinfo; writing through it tells whether it is read-only. */
function isReadOnlyMount(mount: MountedPartition): boolean {
  try {
    fs.writeFileSync(path.join(`/proc/self/fd/${mount.mountFd}`, `probe-${process.pid}`), 'x');
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EROFS';
  }
}

rootTest('bare ext4 mounts read-write and frees its loop device with the mount', async (t) => {
  const image = makeExt4(dir, 'rw.ext4', { files: { 'hello.txt': 'hello\n' } });
  const [mount, ...rest] = mountFile(image);
  t.deepEqual(rest, []);
  t.like(mount, { designator: 'root', fstype: 'ext4', offset: 0n, size: 16n * BigInt(MiB), readOnly: false });
  t.is(readThrough(mount, 'hello.txt'), 'hello\n');
  t.false(isReadOnlyMount(mount));
  closeAll([mount]);
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('ReadOnly mounts ext4 read-only', async (t) => {
  const mounts = mountFile(rootFs, { readOnly: true });
  t.true(mounts[0].readOnly);
  t.is(readThrough(mounts[0], 'etc/os-release'), 'ID=test\n');
  t.true(isReadOnlyMount(mounts[0]));
  closeAll(mounts);
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('an O_RDONLY image fd forces a read-only mount', async (t) => {
  const mounts = mountFile(rootFs, { readOnly: false }, 'r');
  t.true(mounts[0].readOnly);
  t.true(isReadOnlyMount(mounts[0]));
  closeAll(mounts);
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

const mountsFilesystem = test.macro({
  async exec(t: ExecutionContext, build: () => string, fstype: string, expectReadOnly: boolean, file?: string) {
    const mounts = mountFile(build());
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
  const mounts = mountFile(image);
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

  const onlyHome = mountFile(image, { partitions: ['home'], readOnly: true });
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
    const mounts = mountFile(rootFs, { userNamespaceFd: userns, readOnly: true });
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
  const mounts = mountFile(rootFs, { readOnly: true, mountOptions: 'noatime,noexec' });
  closeAll(mounts);
  t.throws(() => mountFile(rootFs, { mountOptions: 'errors=panic' }), { instanceOf: InvalidArgument });
  t.throws(() => mountFile(rootFs, { mountOptions: 'commit=5,x\nerrors=panic' }), { instanceOf: InvalidArgument });
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

rootTest('unknown or absent designators are refused', async (t) => {
  const unknown = t.throws(() => mountFile(rootFs, { partitions: ['boot'] }), { instanceOf: InvalidArgument });
  t.is(unknown?.argument, 'options.Partitions');
  t.throws(() => mountFile(rootFs, { partitions: ['home'] }), { instanceOf: NoMountablePartition });
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});

type ErrorClass = new (...args: never[]) => NsMountError;

interface BadImageCase {
  build: () => string;
  error: ErrorClass;
  message: RegExp;
  partitions?: string[];
}

function gptRootHome(name: string): string {
  return makeGpt(dir, name, [
    { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs },
    { type: TYPE_HOME, sizeMiB: 8, content: homeFs },
  ]).image;
}

const BAD_IMAGES: Record<string, BadImageCase> = {
  'an empty file': {
    build: () => {
      fs.writeFileSync(`${dir}/empty.img`, '');
      return `${dir}/empty.img`;
    },
    error: BadImage,
    message: /empty/,
  },
  'random bytes': {
    build: () => {
      fs.writeFileSync(`${dir}/random.img`, Buffer.alloc(4 * MiB, 0xa5).map((_, i) => (i * 2654435761) >>> 24));
      return `${dir}/random.img`;
    },
    error: BadImage,
    message: /no filesystem or partition table/,
  },
  'a truncated ext4': {
    build: () => {
      const image = makeExt4(dir, 'truncated.ext4', { sizeMiB: 16 });
      fs.truncateSync(image, 4 * MiB);
      return image;
    },
    error: BadImage,
    message: /ext4 cannot mount/,
  },
  'a truncated GPT disk': {
    build: () => {
      const image = gptRootHome('gpt-truncated.img');
      fs.truncateSync(image, 12 * MiB);
      return image;
    },
    error: BadImage,
    message: /both GPT headers are invalid/,
  },
  'overlapping GPT entries': {
    build: () => {
      const image = gptRootHome('gpt-overlap.img');
      editGpt(image, { entries: [{ index: 1, offset: GPT_ENTRY.startLba, value: 2048n + 512n }] });
      return image;
    },
    error: BadImage,
    message: /partitions 1 and 2 overlap/,
  },
  'a GPT entry ending before it starts': {
    build: () => {
      const image = gptRootHome('gpt-wrap.img');
      editGpt(image, { entries: [{ index: 1, offset: GPT_ENTRY.endLba, value: 10n }] });
      return image;
    },
    error: BadImage,
    message: /partition 2 has an empty or negative size/,
  },
  // libblkid drops entries outside the usable area instead of failing:
  // the partition simply does not exist.
  'a GPT entry past the usable area': {
    build: () => {
      const image = gptRootHome('gpt-past.img');
      editGpt(image, { entries: [{ index: 1, offset: GPT_ENTRY.endLba, value: 1n << 40n }] });
      return image;
    },
    partitions: ['home'],
    error: NoMountablePartition,
    message: /no home partition/,
  },
  'a GPT whose usable area extends past the image': {
    build: () => {
      const image = gptRootHome('gpt-lastlba.img');
      editGpt(image, { header: [{ offset: GPT_HEADER.lastUsableLba, value: 1n << 40n, bytes: 8 }], alsoBackup: true });
      return image;
    },
    error: BadImage,
    message: /both GPT headers are invalid/,
  },
  'a GPT with zero entries': {
    build: () => {
      const image = gptRootHome('gpt-count0.img');
      editGpt(image, { header: [{ offset: GPT_HEADER.entryCount, value: 0n, bytes: 4 }], alsoBackup: true });
      return image;
    },
    error: BadImage,
    message: /both GPT headers are invalid/,
  },
  'a GPT with an absurd entry count': {
    build: () => {
      const image = gptRootHome('gpt-count.img');
      editGpt(image, { header: [{ offset: GPT_HEADER.entryCount, value: 0xffffffn, bytes: 4 }], alsoBackup: true });
      return image;
    },
    error: BadImage,
    message: /both GPT headers are invalid/,
  },
  'a GPT with an absurd entry size': {
    build: () => {
      const image = gptRootHome('gpt-entrysize.img');
      editGpt(image, { header: [{ offset: GPT_HEADER.entrySize, value: 1n << 20n, bytes: 4 }], alsoBackup: true });
      return image;
    },
    error: BadImage,
    message: /both GPT headers are invalid/,
  },
  'a valid GPT using entry slot 1001': {
    build: () => {
      const { image } = makeGpt(
        dir,
        'gpt-slot.img',
        [
          { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs },
          { type: TYPE_HOME, sizeMiB: 8, content: homeFs },
        ],
        { tableLength: 2048 },
      );
      editGpt(image, { moveEntry: { from: 1, to: 1000 } });
      return image;
    },
    error: BadImage,
    message: /GPT entry 1001 is beyond the 128/,
  },
  'a GPT without Linux partitions': {
    build: () => makeGpt(dir, 'gpt-swap.img', [{ type: TYPE_SWAP, sizeMiB: 2 }]).image,
    error: NoMountablePartition,
    message: /no partition to mount/,
  },
  'a swap area': {
    build: () => {
      fs.writeFileSync(`${dir}/swap.img`, Buffer.alloc(MiB));
      execFileSync('mkswap', ['-q', `${dir}/swap.img`]);
      return `${dir}/swap.img`;
    },
    error: UnsupportedFileSystem,
    message: /holds swap/,
  },
};

const refusesImage = test.macro({
  async exec(t: ExecutionContext, c: BadImageCase) {
    const image = c.build();
    t.throws(() => mountFile(image, c.partitions ? { partitions: c.partitions } : {}), {
      instanceOf: c.error,
      message: c.message,
    });
    t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
  },
  title: (provided) => `refuses ${provided}`,
});

for (const [name, c] of Object.entries(BAD_IMAGES)) rootTest(name, refusesImage, c);

interface BadFdCase {
  open: () => { fd: number; cleanup: () => void };
  message: RegExp;
}

const BAD_FDS: Record<string, BadFdCase> = {
  'a directory fd': {
    open: () => {
      const fd = fs.openSync(dir, 'r');
      return { fd, cleanup: () => fs.closeSync(fd) };
    },
    message: /^image: expected a regular file or block device, got a directory$/,
  },
  'an O_PATH fd': {
    open: () => {
      const fd = fs.openSync(rootFs, 0o10000000);
      return { fd, cleanup: () => fs.closeSync(fd) };
    },
    message: /^image: an O_PATH fd cannot be read; open the image for reading$/,
  },
  'a write-only fd': {
    open: () => {
      const fd = fs.openSync(rootFs, fs.constants.O_WRONLY);
      return { fd, cleanup: () => fs.closeSync(fd) };
    },
    message: /write-only/,
  },
  'a pipe': {
    open: () => {
      const fifo = path.join(dir, `fifo-${process.hrtime.bigint()}`);
      execFileSync('mkfifo', [fifo]);
      const fd = fs.openSync(fifo, fs.constants.O_RDWR);
      return { fd, cleanup: () => fs.closeSync(fd) };
    },
    message: /got a pipe$/,
  },
  'a socket': {
    open: () => {
      const server = net.createServer().listen(path.join(dir, `sock-${process.hrtime.bigint()}`));
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      return { fd, cleanup: () => server.close() };
    },
    message: /got a socket$/,
  },
};

const refusesFd = test.macro({
  async exec(t: ExecutionContext, c: BadFdCase) {
    const { fd, cleanup } = c.open();
    try {
      const error = t.throws(() => mountImage({ imageFd: fd, readOnly: true, forceNosuidNodev: true }), {
        instanceOf: BadFileDescriptor,
        message: c.message,
      });
      t.is(error?.argument, 'image');
    } finally {
      cleanup();
    }
    t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
  },
  title: (provided) => `refuses ${provided}`,
});

for (const [name, c] of Object.entries(BAD_FDS)) rootTest(name, refusesFd, c);

rootTest('a failure on the second partition releases the first', async (t) => {
  const { image } = makeGpt(dir, 'half-bad.img', [
    { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs },
    // ext4 superblock present, body missing: blkid sees ext4, mounting fails
    { type: TYPE_HOME, sizeMiB: 8 },
  ]);
  withImage(image, 'r+', (fd) => {
    const superblock = Buffer.alloc(4096);
    withImage(homeFs, 'r', (home) => fs.readSync(home, superblock, 0, 4096, 0));
    fs.writeSync(fd, superblock, 0, 4096, 9 * MiB);
  });
  t.throws(() => mountFile(image), { instanceOf: BadImage, message: /partition 2 \(home\)/ });
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
