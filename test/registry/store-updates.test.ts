// RegistryStore updates: durable, shared between stores on one directory,
// all-or-nothing, and cheap (a journal append) whatever the registry's size.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { RegistryStore } from '../../src/registry/store';
import { record, mount, freshDir, names, journal, sizeOf } from './store-fixture';

test('updates are durable and visible to a second store on the same directory', (t) => {
  const dir = freshDir();
  const a = new RegistryStore(dir);
  const b = new RegistryStore(dir);
  a.open();
  b.open();
  a.update((s) => s.namespaces.insert(record('one', 524288)));
  t.deepEqual(names(b), ['one']);
  b.update((s) => s.namespaces.insert(record('two', 589824)));
  t.deepEqual(names(a), ['one', 'two']);
  a.update((s) => s.namespaces.delete('524288'));
  t.deepEqual(names(b), ['two']);
  a.close();
  b.close();
});

test('a change that throws stores nothing and leaves the state as it was', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((s) => {
    s.namespaces.insert(record('kept', 524288));
    s.neverUsedFrom = 9;
  });
  t.throws(() =>
    store.update((s) => {
      s.namespaces.insert(record('lost', 589824));
      s.namespaces.delete('524288');
      s.neverUsedFrom = 10;
      throw new Error('refused');
    }),
  );
  t.deepEqual(names(store), ['kept']);
  t.is(store.read().neverUsedFrom, 9);
  t.is(store.read().namespaces.where('ownerUid', 1000).length, 1, 'the index was rolled back too');
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.deepEqual(names(reopened), ['kept']);
  t.is(reopened.read().neverUsedFrom, 9);
});

test('a key is never recorded twice by insert', (t) => {
  const store = new RegistryStore(freshDir());
  store.open();
  store.update((s) => s.namespaces.insert(record('first', 524288)));
  t.throws(() => store.update((s) => s.namespaces.insert(record('second', 524288))), { message: /already recorded/ });
  t.deepEqual(names(store), ['first']);
});

test('no temporary file is left behind', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  for (let i = 0; i < 20; i++) store.update((s) => s.namespaces.insert(record(`n${i}`, 524288 + i * 65536)));
  t.deepEqual(fs.readdirSync(dir).sort(), ['registry.journal', 'registry.lock']);
});

test('a change appends a few hundred bytes whatever the size of the registry', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  for (let i = 0; i < 1500; i++) {
    store.update((s) => {
      s.namespaces.insert(record(`n${i}`, 524288 + i * 65536));
      s.mounts.insert(mount(i));
    });
  }
  const snapshot = path.join(dir, 'registry.json');
  const snapshotBefore = sizeOf(snapshot);
  const before = sizeOf(journal(dir));
  store.update((s) => s.namespaces.insert(record('one-more', 524288 + 1500 * 65536)));
  const put = sizeOf(journal(dir)) - before;
  store.update((s) => s.mounts.delete('7'));
  const removed = sizeOf(journal(dir)) - before - put;
  t.true(put > 0 && put < 400, `a namespace put appended ${put} bytes`);
  t.true(removed > 0 && removed < 100, `a delete appended ${removed} bytes`);
  t.is(sizeOf(snapshot), snapshotBefore, 'the snapshot was not rewritten');
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.is(reopened.read().namespaces.size, 1501);
  t.is(reopened.read().mounts.size, 1499);
  t.false(reopened.read().mounts.has('7'));
});
