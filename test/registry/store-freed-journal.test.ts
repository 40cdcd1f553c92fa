// Frees travel in the journal line of their change and reach freed.log
// when the journal is folded into a snapshot; state directories written
// before that (frees in freed.log only) still load.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { RegistryStore, RegistryCorrupt } from '../../src/registry/store';
import type { BlockOwner } from '../../src/registry/freed-blocks';
import { record, mount, freshDir, journal } from './store-fixture';

const ALICE = 61001;
const BOB = 61002;
const freedLog = (dir: string) => path.join(dir, 'freed.log');
const ownerRecord = (name: string, ownerUid: number, base: number) => ({ ...record(name, base), ownerUid });

function freedOf(store: RegistryStore): Array<[number, BlockOwner]> {
  return store.update((_s, freed) => freed.entries().map(([base, { owner }]): [number, BlockOwner] => [base, owner]));
}

function journalEntries(dir: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(journal(dir), 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(1)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

test('a namespace record goes and its block is freed in one journal line; freed.log waits for compaction', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((s) => s.namespaces.insert(ownerRecord('a', ALICE, 524288)));
  store.update((s, freed) => {
    s.namespaces.delete('524288');
    freed.markFreed(524288, 7, ALICE);
  });
  t.deepEqual(journalEntries(dir).at(-1), { ops: [{ table: 'namespaces', delete: '524288' }], freed: [`524288 7 ${ALICE}`] });
  t.false(fs.existsSync(freedLog(dir)), 'one synced write per change: freed.log is not written');
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.deepEqual(reopened.read().namespaces.all(), []);
  t.deepEqual(freedOf(reopened), [[524288, ALICE]]);
});

// Written by the previous format (main e83b768): frees only in freed.log,
// appended before the journal line that deleted the record; the first
// freed.log line is older still, without an owner.
const OLD_FORMAT = {
  'registry.json':
    '{"version":1,"namespaces":[{"name":"a1","ownerUid":61001,"base":524288,"size":65536,"namespaceId":"4026530008","handle":null,"createdUsec":"1000"},' +
    '{"name":"b1","ownerUid":61002,"base":589824,"size":65536,"namespaceId":"4026530009","handle":null,"createdUsec":"1000"}],"mounts":[],"neverUsedFrom":11,"generation":1}',
  'registry.journal': [
    '{"generation":1}',
    '{"ops":[{"table":"mounts","put":{"target":"/t","ownerUid":61002,"source":"/s","kind":"directory","mountId":"1","legacyMountId":1,"createdUsec":"0"}}]}',
    '{"ops":[{"table":"mounts","delete":"1"}]}',
    '{"ops":[{"table":"namespaces","delete":"524288"}]}',
    '{"ops":[{"table":"namespaces","put":{"name":"b2","ownerUid":61002,"base":720896,"size":65536,"namespaceId":"4026530011","handle":null,"createdUsec":"1000"}}]}',
    '',
  ].join('\n'),
  'freed.log': '786432 3\n655360 5 -\n524288 7 61001\n',
};

test('a state directory of the previous format loads, and its history goes on in the new one', (t) => {
  const dir = freshDir();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, text] of Object.entries(OLD_FORMAT)) fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
  const store = new RegistryStore(dir);
  store.open();
  t.deepEqual(store.read().namespaces.all().map((n) => n.name), ['b1', 'b2']);
  t.is(store.read().neverUsedFrom, 11);
  t.deepEqual(freedOf(store), [
    [786432, 'unknown'],
    [655360, 'none'],
    [524288, ALICE],
  ]);
  store.update((s, freed) => {
    s.namespaces.delete('589824');
    freed.markFreed(589824, 9, BOB);
  });
  t.is(fs.readFileSync(freedLog(dir), 'utf8'), OLD_FORMAT['freed.log'], 'the old log is kept as it was');
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.deepEqual(reopened.read().namespaces.all().map((n) => n.name), ['b2']);
  t.deepEqual(freedOf(reopened), [
    [786432, 'unknown'],
    [655360, 'none'],
    [524288, ALICE],
    [589824, BOB],
  ]);
});

test('compaction folds the journal\'s frees into freed.log, in order, before the new snapshot', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  for (let i = 0; i < 1200; i++) {
    store.update((s, freed) => {
      if (i % 2) s.mounts.delete('1');
      else s.mounts.insert(mount(1));
      if (i % 7 === 0) freed.markFreed(524288 + (i % 5) * 65536, i, 61000 + (i % 3));
    });
  }
  const before = freedOf(store);
  const snapshot = JSON.parse(fs.readFileSync(path.join(dir, 'registry.json'), 'utf8')) as { generation: number };
  t.is(snapshot.generation, 1, 'one compaction');
  t.true(fs.readFileSync(freedLog(dir), 'utf8').length > 0, 'freed.log got the folded frees');
  t.true(journalEntries(dir).length < 300, 'the journal started afresh');
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.deepEqual(freedOf(reopened), before);
});

test('a torn last line of freed.log is never completed into a wrong line by the next fold', (t) => {
  const dir = freshDir();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A crash in the middle of appending "589824 2 61002".
  fs.writeFileSync(freedLog(dir), `524288 1 ${ALICE}\n589824 2`, { mode: 0o600 });
  const store = new RegistryStore(dir);
  store.open();
  for (let i = 0; i < 1100; i++) store.update((s, freed) => (i % 2 ? s.mounts.delete('1') : (s.mounts.insert(mount(1)), freed.markFreed(655360, 10 + i, BOB))));
  const lines = fs.readFileSync(freedLog(dir), 'utf8').split('\n');
  t.is(lines.pop(), '', 'ends with a whole line');
  t.false(lines.some((line) => line.startsWith('589824')), lines.join(' | '));
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.deepEqual(freedOf(reopened), [
    [524288, ALICE],
    [655360, BOB],
  ]);
});

test('a malformed free in a journal line is refused rather than guessed at', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((_s, freed) => freed.markFreed(524288, 1, ALICE));
  store.update((_s, freed) => freed.markFreed(589824, 2, BOB));
  const text = fs.readFileSync(journal(dir), 'utf8').replace(`"524288 1 ${ALICE}"`, '"524288 one"');
  fs.writeFileSync(journal(dir), text);
  t.throws(() => new RegistryStore(dir).open(), { instanceOf: RegistryCorrupt, message: /registry\.journal: journal line 2 frees a malformed block/ });
});
