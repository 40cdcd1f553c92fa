// The RegistryStore's log of freed blocks: order, reuse, torn lines,
// compaction and last owners.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { RegistryStore } from '../../src/registry/store';
import { record, freshDir } from './store-fixture';

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
    s.namespaces.insert(record('live', 524288));
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

test('a freed block keeps its last owner across a reopen and a compaction', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  for (let i = 0; i < 1200; i++) store.update((_s, freed) => freed.markFreed(524288 + (i % 3) * 65536, i, 61000 + (i % 3)));
  store.update((_s, freed) => freed.markFreed(786432, 1200, 'none'));
  const reopened = new RegistryStore(dir);
  reopened.open();
  reopened.update((_s, freed) =>
    t.deepEqual(
      freed.entries().map(([base, { owner }]) => [base, owner]),
      [
        [524288, 61000],
        [589824, 61001],
        [655360, 61002],
        [786432, 'none'],
      ],
    ),
  );
});
