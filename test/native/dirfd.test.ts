import test from 'ava';
import { rootTest } from '../helpers/root';
import fs from 'node:fs';
import path from 'node:path';
import { SystemError } from '../../src/errors';
import { closeQuietly } from '../../src/native/fd';
import {
  fchown,
  fstatFd,
  isDirectoryEmpty,
  mkdirAt,
  O_DIRECTORY,
  O_PATH,
  openAt,
  openParent,
  renameNoReplace,
  unlinkAt,
} from '../../src/native/dirfd';
import { makeTree, removeTree } from '../idmap/fixture';

let tree: string;
test.before(() => {
  tree = makeTree('dirfd');
});
test.after.always(() => removeTree(tree));

function dirFixture(name: string): { dir: string; fd: number } {
  const dir = path.join(tree, name);
  fs.mkdirSync(dir);
  return { dir, fd: fs.openSync(dir, O_PATH | O_DIRECTORY) };
}

test('isDirectoryEmpty reads an O_PATH directory and ignores only . and ..', (t) => {
  const { dir, fd } = dirFixture('empty');
  try {
    t.true(isDirectoryEmpty(fd));
    fs.writeFileSync(path.join(dir, '.hidden'), '');
    t.false(isDirectoryEmpty(fd));
  } finally {
    closeQuietly(fd);
  }
});

test('renameNoReplace refuses to replace an existing name', (t) => {
  const { dir, fd } = dirFixture('rename');
  try {
    mkdirAt(fd, 'a', 0o700);
    mkdirAt(fd, 'b', 0o700);
    const error = t.throws(() => renameNoReplace(fd, 'a', fd, 'b'), { instanceOf: SystemError });
    t.is(error?.code, 'EEXIST');
    renameNoReplace(fd, 'a', fd, 'c');
    t.deepEqual(fs.readdirSync(dir).sort(), ['b', 'c']);
  } finally {
    closeQuietly(fd);
  }
});

test('openAt never follows a symlink', (t) => {
  const { dir, fd } = dirFixture('nofollow');
  fs.symlinkSync('/', path.join(dir, 'link'));
  try {
    const error = t.throws(() => openAt(fd, 'link', fs.constants.O_RDONLY), { instanceOf: SystemError });
    t.is(error?.code, 'ELOOP');
  } finally {
    closeQuietly(fd);
  }
});

test('openParent goes one level up by fd', (t) => {
  const { dir, fd } = dirFixture('parent');
  const parent = openParent(fd);
  try {
    t.is(fstatFd(parent).ino, fs.statSync(path.dirname(dir), { bigint: true }).ino);
  } finally {
    closeQuietly(parent);
    closeQuietly(fd);
  }
});

test('unlinkAt removes a directory only when asked to', (t) => {
  const { dir, fd } = dirFixture('unlink');
  try {
    mkdirAt(fd, 'sub', 0o700);
    t.throws(() => unlinkAt(fd, 'sub', { dir: false }), { instanceOf: SystemError });
    unlinkAt(fd, 'sub', { dir: true });
    t.deepEqual(fs.readdirSync(dir), []);
  } finally {
    closeQuietly(fd);
  }
});

// Changing a file's owner to someone else needs CAP_CHOWN.

rootTest('fchown works on an O_PATH fd', (t) => {
  const { dir, fd } = dirFixture('chown');
  try {
    fchown(fd, 61001, 61002);
    const st = fs.statSync(dir);
    t.deepEqual([st.uid, st.gid], [61001, 61002]);
  } finally {
    closeQuietly(fd);
  }
});
