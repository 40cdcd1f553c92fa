import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootTest } from '../helpers/root';
import { RegistryStore, RegistryCorrupt } from '../../src/registry/store';
import type { NamespaceRecord } from '../../src/registry/state';

function record(name: string, base: number): NamespaceRecord {
  return { name, ownerUid: 1000, base, size: 65536, namespaceId: '1', handle: null, createdUsec: '0' };
}

function freshDir(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-reg-')), 'state');
}

test('updates are durable and visible to a second store on the same directory', (t) => {
  const dir = freshDir();
  const a = new RegistryStore(dir);
  const b = new RegistryStore(dir);
  a.open();
  b.open();
  a.update((s) => s.namespaces.push(record('one', 524288)));
  t.deepEqual(b.read().namespaces.map((n) => n.name), ['one']);
  b.update((s) => s.namespaces.push(record('two', 589824)));
  t.deepEqual(a.read().namespaces.map((n) => n.name), ['one', 'two']);
  a.close();
  b.close();
});

test('a change that throws stores nothing', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((s) => s.namespaces.push(record('kept', 524288)));
  t.throws(() =>
    store.update((s) => {
      s.namespaces.push(record('lost', 589824));
      throw new Error('refused');
    }),
  );
  t.deepEqual(store.read().namespaces.map((n) => n.name), ['kept']);
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.deepEqual(reopened.read().namespaces.map((n) => n.name), ['kept']);
});

test('no temporary file is left behind', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  for (let i = 0; i < 20; i++) store.update((s) => s.namespaces.push(record(`n${i}`, 524288 + i * 65536)));
  t.deepEqual(fs.readdirSync(dir).sort(), ['registry.json', 'registry.lock']);
});

test('a damaged registry is refused rather than guessed at', (t) => {
  const dir = freshDir();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'registry.json'), '{"version":1,"namespaces":[{"name":3}]');
  const store = new RegistryStore(dir);
  t.throws(() => store.open(), { instanceOf: RegistryCorrupt, message: /registry\.json/ });
});

rootTest('a write on a read-only state directory fails cleanly and keeps the previous registry', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((s) => s.namespaces.push(record('kept', 524288)));
  execFileSync('mount', ['--bind', dir, dir]);
  try {
    execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
    const err = t.throws(() => store.update((s) => s.namespaces.push(record('lost', 589824))));
    t.regex(err!.message, /registry.*EROFS/);
    t.deepEqual(store.read().namespaces.map((n) => n.name), ['kept']);
  } finally {
    execFileSync('umount', [dir]);
  }
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.deepEqual(reopened.read().namespaces.map((n) => n.name), ['kept']);
  t.deepEqual(fs.readdirSync(dir).sort(), ['registry.json', 'registry.lock']);
});

test('freed blocks survive a reopen in least-recently-freed order, and another store sees new ones', (t) => {
  const dir = freshDir();
  const a = new RegistryStore(dir);
  a.open();
  a.update((_s, freed) => {
    freed.markFreed(655360, 1);
    freed.markFreed(524288, 2);
  });
  const b = new RegistryStore(dir);
  b.open();
  b.update((_s, freed) => t.is(freed.pickLeastRecentlyFreed(() => true), 655360));
  a.update((_s, freed) => freed.markFreed(655360, 3));
  b.update((_s, freed) => t.is(freed.pickLeastRecentlyFreed(() => true), 524288, 'b read the block a freed again'));
});

test('a block in use is never offered, even if the log lists it', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((s, freed) => {
    freed.markFreed(524288, 1);
    freed.markFreed(589824, 2);
  });
  store.update((s, freed) => {
    s.namespaces.push(record('live', 524288));
    freed.take(524288);
  });
  const reopened = new RegistryStore(dir);
  reopened.open();
  reopened.update((_s, freed) => t.is(freed.pickLeastRecentlyFreed(() => true), 589824));
});

test('a torn last line of the freed log is ignored', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((_s, freed) => freed.markFreed(524288, 1));
  fs.appendFileSync(path.join(dir, 'freed.log'), '589824 2');
  const reopened = new RegistryStore(dir);
  reopened.open();
  reopened.update((_s, freed) => {
    t.is(freed.size, 1);
    t.true(freed.has(524288));
  });
});

test('the freed log is compacted once it holds far more lines than blocks, keeping the order', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  for (let i = 0; i < 1200; i++) store.update((_s, freed) => freed.markFreed(524288 + (i % 3) * 65536, i));
  const lines = fs.readFileSync(path.join(dir, 'freed.log'), 'utf8').trim().split('\n');
  t.true(lines.length < 1200, `${lines.length} lines`);
  const reopened = new RegistryStore(dir);
  reopened.open();
  // Last frees: i=1197 → block 0, 1198 → block 1, 1199 → block 2.
  reopened.update((_s, freed) => t.deepEqual(freed.entries().map(([base]) => (base - 524288) / 65536), [0, 1, 2]));
});
