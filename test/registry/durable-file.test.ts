import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appendDurably, replaceFile } from '../../src/registry/durable-file';

function freshDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-durable-'));
}

test('replaceFile puts the new text in place, readable by the owner only', (t) => {
  const dir = freshDir();
  const file = path.join(dir, 'registry.json');
  fs.writeFileSync(file, 'old', { mode: 0o644 });
  replaceFile(file, 'new');
  t.is(fs.readFileSync(file, 'utf8'), 'new');
  t.is(fs.statSync(file).mode & 0o777, 0o600);
  t.deepEqual(fs.readdirSync(dir), ['registry.json']);
});

test('a replaceFile that fails leaves the old file and no temporary one', (t) => {
  const dir = freshDir();
  // A non-empty directory where the file should go: the rename fails.
  const file = path.join(dir, 'registry.json');
  fs.mkdirSync(file);
  fs.writeFileSync(path.join(file, 'keep'), 'x');
  t.throws(() => replaceFile(file, 'new'), { code: 'EISDIR' });
  t.deepEqual(fs.readdirSync(dir), ['registry.json']);
  t.deepEqual(fs.readdirSync(file), ['keep']);
});

test('appendDurably creates the file and appends whole texts in order', (t) => {
  const file = path.join(freshDir(), 'freed.log');
  appendDurably(file, 'a\n');
  appendDurably(file, 'b'.repeat(100_000) + '\n');
  t.is(fs.readFileSync(file, 'utf8'), 'a\n' + 'b'.repeat(100_000) + '\n');
  t.is(fs.statSync(file).mode & 0o777, 0o600);
});
