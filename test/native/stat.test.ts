// statFdCached answers what fstat answers (for local files the cache is
// the truth), for every kind of fd a caller may pass, O_PATH included.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { rootTest } from '../helpers/root';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { statFdCached } from '../../src/native/stat';
import { openPathNoSymlinks } from '../../src/native/resolve';
import { closeQuietly } from '../../src/native/fd';
import { SystemError } from '../../src/errors';
import { O_PATH } from '../../src/native/flags';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-stat-'));
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));

const cases: Array<[string, () => number]> = [
  ['a regular file', () => {
    fs.writeFileSync(path.join(dir, 'file'), 'twelve bytes');
    return fs.openSync(path.join(dir, 'file'), 'r');
  }],
  ['a directory by O_PATH', () => fs.openSync(dir, O_PATH | fs.constants.O_DIRECTORY)],
  ['a character device', () => fs.openSync('/dev/null', 'r')],
];

for (const [kind, open] of cases) {
  test(`statFdCached of ${kind} agrees with fstat`, (t) => {
    const fd = open();
    try {
      const cached = statFdCached(fd);
      const real = fs.fstatSync(fd, { bigint: true });
      t.is(cached.mode, Number(real.mode));
      t.is(cached.uid, Number(real.uid));
      t.is(cached.gid, Number(real.gid));
      t.is(cached.dev, real.dev);
      t.is(cached.ino, real.ino);
      t.is(cached.size, real.size);
      t.is(cached.isFile(), real.isFile());
      t.is(cached.isDirectory(), real.isDirectory());
      t.is(cached.isCharacterDevice(), real.isCharacterDevice());
    } finally {
      fs.closeSync(fd);
    }
  });
}

test('statFdCached of a closed fd is EBADF', (t) => {
  const error = t.throws(() => statFdCached(99999), { instanceOf: SystemError });
  t.is(error!.code, 'EBADF');
});

test('openPathNoSymlinks with cachedOnly finds a path whose dentries are cached, and refuses symlinks still', (t) => {
  fs.statSync(dir); // the walk just below finds every dentry cached
  const fd = openPathNoSymlinks(dir, { cachedOnly: true });
  try {
    t.is(statFdCached(fd).ino, fs.statSync(dir, { bigint: true }).ino);
  } finally {
    closeQuietly(fd);
  }
  fs.symlinkSync(dir, path.join(dir, 'link'));
  t.throws(() => openPathNoSymlinks(path.join(dir, 'link', 'file'), { cachedOnly: true }), { instanceOf: SystemError });
});

rootTest('a cached walk is not refused because mounts change elsewhere meanwhile', async (t) => {
  // Trusted images were seen refused under load: the lockless walk gives
  // up when the mount table changes under it.
  const target = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-churn-'));
  const churn = spawn('sh', ['-c', `while :; do mount -t tmpfs none ${target} && umount ${target}; done`], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    let refused = 0;
    for (let i = 0; i < 100000; i++) {
      try {
        closeQuietly(openPathNoSymlinks(dir, { cachedOnly: true }));
      } catch {
        refused++;
      }
    }
    t.is(refused, 0);
  } finally {
    churn.kill('SIGKILL');
    await new Promise((resolve) => churn.once('exit', resolve));
    while (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${target} `)) {
      try {
        execFileSync('umount', [target]);
      } catch {
        break;
      }
    }
    fs.rmSync(target, { recursive: true, force: true });
  }
});
