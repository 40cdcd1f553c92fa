// mountImage refuses what is no image it can mount, and leaves no loop device behind.
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { BadImage, NoMountablePartition, NsMountError, UnsupportedFileSystem } from '../../src/errors';
import { GPT_ENTRY, GPT_HEADER, MiB, TYPE_HOME, TYPE_ROOT_X86_64, TYPE_SWAP, editGpt, makeExt4, makeGpt, waitForNoLoopDevicesUnder } from '../helpers/images';
import { dir, gptRootHome, homeFs, mountFile, rootFs, rootTest, useImageFiles, withImage } from './mount-image-fixture';

useImageFiles();

type ErrorClass = new (...args: never[]) => NsMountError;

interface BadImageCase {
  build: () => string;
  error: ErrorClass;
  message: RegExp;
  partitions?: string[];
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
    await t.throwsAsync(() => mountFile(image, c.partitions ? { partitions: c.partitions } : {}), {
      instanceOf: c.error,
      message: c.message,
    });
    t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
  },
  title: (provided) => `refuses ${provided}`,
});

for (const [name, c] of Object.entries(BAD_IMAGES)) rootTest(name, refusesImage, c);

rootTest('a failure on the second partition releases the first', async (t) => {
  const { image } = makeGpt(dir, 'half-bad.img', [
    { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs },
    // ext4 superblock present, body missing: blkid sees ext4, mounting fails
    { type: TYPE_HOME, sizeMiB: 8 },
  ]);
  await withImage(image, 'r+', async (fd) => {
    const superblock = Buffer.alloc(4096);
    await withImage(homeFs, 'r', (home) => fs.readSync(home, superblock, 0, 4096, 0));
    fs.writeSync(fd, superblock, 0, 4096, 9 * MiB);
  });
  await t.throwsAsync(() => mountFile(image), { instanceOf: BadImage, message: /partition 2 \(home\)/ });
  t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
});
