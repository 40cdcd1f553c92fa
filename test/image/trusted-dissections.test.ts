import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { DissectedImage } from '../../src/image/dissect';
import { TrustedDissections } from '../../src/image/trusted-dissections';
import { tempDir } from '../helpers/images';

// The cache itself, on plain files: which changes make a version new, how
// long and how many entries it keeps. test/methods/mount.test.ts shows a
// trusted image relabelled between two Mounts through the daemon.

let dir: string;
test.before(() => {
  dir = tempDir('nsmountd-trusted-dissections-');
});
test.after.always(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function dissection(label: string): DissectedImage {
  return {
    kind: 'filesystem',
    sizeBytes: 4096n,
    partitions: [
      {
        designator: 'root',
        partitionNumber: null,
        architecture: null,
        partitionTypeUuid: null,
        partitionUuid: null,
        partitionLabel: null,
        offset: 0n,
        size: 4096n,
        fstype: 'ext4',
        uuid: null,
        label,
        readOnlyFlag: false,
        noAuto: false,
      },
    ],
    skipped: [],
  };
}

let counter = 0;
function newFile(): string {
  const file = path.join(dir, `image-${counter++}`);
  fs.writeFileSync(file, Buffer.alloc(4096));
  return file;
}

function withFd<T>(file: string, use: (fd: number) => T): T {
  const fd = fs.openSync(file, 'r+');
  try {
    return use(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Each change a file can go through that must make its dissection new. */
const changeChangesVersion = test.macro({
  exec(t: ExecutionContext, change: (file: string, fd: number) => void) {
    const file = newFile();
    withFd(file, (fd) => {
      const cache = new TrustedDissections();
      const before = cache.versionOf(fd);
      cache.remember(before, dissection('old'));
      change(file, fd);
      const after = cache.versionOf(fd);
      t.not(after, before);
      t.is(cache.get(after), undefined);
    });
  },
  title: (what = '') => `a new version after ${what}`,
});

// Back to back, with no sleep: the version must not rest on the clock's granularity alone.
test('a write of the same size, at once', changeChangesVersion, (_file: string, fd: number) => {
  fs.writeSync(fd, Buffer.from('new label'), 0, 9, 1024);
});
test('a write through another open file', changeChangesVersion, (file: string) => {
  fs.writeFileSync(file, Buffer.alloc(4096, 1));
});
test('a truncation to another size', changeChangesVersion, (_file: string, fd: number) => {
  fs.ftruncateSync(fd, 8192);
});
test('mtime set back to what it was', changeChangesVersion, (file: string, fd: number) => {
  const { atime, mtime } = fs.statSync(file);
  fs.writeSync(fd, Buffer.from('x'), 0, 1, 0);
  fs.utimesSync(file, atime, mtime);
});
test('another file of the same size and times has a version of its own', (t) => {
  const cache = new TrustedDissections();
  const [a, b] = [newFile(), newFile()];
  const { atime, mtime } = fs.statSync(a);
  fs.utimesSync(b, atime, mtime);
  t.not(withFd(a, (fd) => cache.versionOf(fd)), withFd(b, (fd) => cache.versionOf(fd)));
});

test('an unchanged file keeps its version, and the dissection is found', (t) => {
  withFd(newFile(), (fd) => {
    const cache = new TrustedDissections();
    const version = cache.versionOf(fd);
    const kept = cache.remember(version, dissection('kept'));
    t.is(cache.versionOf(fd), version);
    t.is(cache.get(cache.versionOf(fd)), kept);
    t.is(kept.partitions[0].label, 'kept');
  });
});

test('what is remembered is frozen: one call cannot change what the next one mounts', (t) => {
  const cache = new TrustedDissections();
  const kept = cache.remember('v', dissection('frozen'));
  t.true(Object.isFrozen(kept));
  t.true(Object.isFrozen(kept.partitions));
  t.true(Object.isFrozen(kept.partitions[0]));
  t.throws(() => {
    (kept.partitions[0] as { offset: bigint }).offset = 512n;
  });
});

test('a dissection is used for at most the time limit, however unchanged the file', (t) => {
  let now = 0;
  const cache = new TrustedDissections({ ttlMs: 1000, now: () => now });
  const kept = cache.remember('v', dissection('a'));
  now = 999;
  t.is(cache.get('v'), kept);
  now = 1000;
  t.is(cache.get('v'), undefined);
  t.is(cache.size, 0);
});

test('at most maxEntries images are remembered; the oldest go first', (t) => {
  const cache = new TrustedDissections({ maxEntries: 3 });
  for (const version of ['a', 'b', 'c', 'd']) cache.remember(version, dissection(version));
  t.is(cache.size, 3);
  t.is(cache.get('a'), undefined);
  t.is(cache.get('d')?.partitions[0].label, 'd');
  // Remembering a version again makes it the newest.
  cache.remember('b', dissection('b2'));
  cache.remember('e', dissection('e'));
  t.is(cache.get('c'), undefined);
  t.is(cache.get('b')?.partitions[0].label, 'b2');
});
