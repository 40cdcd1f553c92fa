// The RegistryStore's journal and snapshot on disk: compaction, what a crash
// or torn write leaves, and damage that is refused rather than guessed at.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { RegistryStore, RegistryCorrupt } from '../../src/registry/store';
import type { NamespaceRecord } from '../../src/registry/state';
import { record, mount, freshDir, names, journal, sizeOf } from './store-fixture';

test('the journal is folded into the snapshot once long, and a second store follows', (t) => {
  const dir = freshDir();
  const a = new RegistryStore(dir);
  const b = new RegistryStore(dir);
  a.open();
  b.open();
  a.update((s) => s.namespaces.insert(record('steady', 524288)));
  // Churn: one record comes and goes, far more often than the registry is large.
  for (let i = 0; i < 3000; i++) {
    a.update((s) => (i % 2 ? s.mounts.delete('1') : s.mounts.insert(mount(1))));
    if (i % 500 === 0) t.deepEqual(names(b), ['steady']);
  }
  t.true(fs.existsSync(path.join(dir, 'registry.json')), 'a snapshot was written');
  t.true(sizeOf(journal(dir)) < 1024 * 120, `journal of ${sizeOf(journal(dir))} bytes`);
  b.update((s) => s.mounts.insert(mount(2)));
  t.deepEqual(a.read().mounts.all().map((m) => m.mountId), ['2']);
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.deepEqual(names(reopened), ['steady']);
  t.deepEqual(reopened.read().mounts.all().map((m) => m.mountId), ['2']);
});

test('a journal older than the snapshot (crash during compaction) is ignored, then replaced', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((s) => s.namespaces.insert(record('a', 524288)));
  store.update((s) => s.namespaces.insert(record('b', 589824)));
  // What a crash right after the snapshot's rename leaves: the new snapshot, the old journal.
  const doc = RegistryStore.readDocument(dir);
  fs.writeFileSync(path.join(dir, 'registry.json'), JSON.stringify({ ...doc, namespaces: doc.namespaces.filter((n) => n.name === 'b'), generation: 1 }));
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.deepEqual(names(reopened), ['b'], 'the stale journal did not bring back a');
  reopened.update((s) => s.namespaces.insert(record('c', 655360)));
  t.deepEqual(fs.readFileSync(journal(dir), 'utf8').split('\n')[0], '{"generation":1}');
  const again = new RegistryStore(dir);
  again.open();
  t.deepEqual(names(again), ['b', 'c']);
});

test('a last journal line cut short is not part of the registry and is overwritten by the next change', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((s) => s.namespaces.insert(record('whole', 524288)));
  const line = fs.readFileSync(journal(dir), 'utf8').split('\n')[1];
  fs.appendFileSync(journal(dir), line.replace('whole', 'torn').slice(0, -5));
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.deepEqual(names(reopened), ['whole']);
  reopened.update((s) => s.namespaces.insert(record('next', 589824)));
  const again = new RegistryStore(dir);
  again.open();
  t.deepEqual(names(again), ['whole', 'next']);
  t.false(fs.readFileSync(journal(dir), 'utf8').includes('torn'));
});

test('fields the registry does not know flow through the journal and the snapshot', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((s) => s.namespaces.insert({ ...record('extra', 524288), lastOwnerUid: 61001 } as NamespaceRecord));
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.like(reopened.read().namespaces.get('524288'), { lastOwnerUid: 61001 });
});

test('a damaged registry is refused rather than guessed at', (t) => {
  const dir = freshDir();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'registry.json'), '{"version":1,"namespaces":[{"name":3}]');
  const store = new RegistryStore(dir);
  t.throws(() => store.open(), { instanceOf: RegistryCorrupt, message: /registry\.json/ });
});

test('a damaged journal line before the last is refused rather than guessed at', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((s) => s.namespaces.insert(record('one', 524288)));
  store.update((s) => s.namespaces.insert(record('two', 589824)));
  const lines = fs.readFileSync(journal(dir), 'utf8').split('\n');
  lines[1] = lines[1].replace('"ownerUid":1000', '"ownerUid":"x"');
  fs.writeFileSync(journal(dir), lines.join('\n'));
  t.throws(() => new RegistryStore(dir).open(), { instanceOf: RegistryCorrupt, message: /registry\.journal: .*line 2/ });
});
