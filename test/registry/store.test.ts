import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootTest } from '../helpers/root';
import { RegistryStore, RegistryCorrupt } from '../../src/registry/store';
import type { MountRecord, NamespaceRecord } from '../../src/registry/state';

function record(name: string, base: number): NamespaceRecord {
  return { name, ownerUid: 1000, base, size: 65536, namespaceId: String(base), handle: null, createdUsec: '0' };
}

function mount(id: number, ownerUid = 1000): MountRecord {
  return { target: `/home/u${ownerUid}/mnt-${id}`, ownerUid, source: `/home/u${ownerUid}/src-${id}`, kind: 'directory', mountId: String(id), legacyMountId: id, createdUsec: '0' };
}

function freshDir(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-reg-')), 'state');
}

const names = (store: RegistryStore) => store.read().namespaces.all().map((n) => n.name);
const journal = (dir: string) => path.join(dir, 'registry.journal');
const sizeOf = (file: string) => (fs.existsSync(file) ? fs.statSync(file).size : 0);

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

rootTest('a write on a read-only state directory fails cleanly and keeps the previous registry', (t) => {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((s) => s.namespaces.insert(record('kept', 524288)));
  execFileSync('mount', ['--bind', dir, dir]);
  try {
    execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
    const err = t.throws(() => store.update((s) => s.namespaces.insert(record('lost', 589824))));
    t.regex(err!.message, /registry.*EROFS/);
    t.deepEqual(names(store), ['kept']);
  } finally {
    execFileSync('umount', [dir]);
  }
  store.close();
  const reopened = new RegistryStore(dir);
  reopened.open();
  t.deepEqual(names(reopened), ['kept']);
  t.deepEqual(fs.readdirSync(dir).sort(), ['registry.journal', 'registry.lock']);
});

rootTest('a change that does not fit on a full state directory is cut off: the journal is as before', (t) => {
  const dir = freshDir();
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'nsmountd-reg-test', dir]);
  try {
    const store = new RegistryStore(dir);
    store.open();
    store.update((s) => s.namespaces.insert(record('kept', 524288)));
    const fd = fs.openSync(path.join(dir, 'filler'), 'w');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(4096));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      fs.closeSync(fd);
    }
    // The journal's last page takes what fits; a change bigger than what is left must fail whole.
    let i = 0;
    let err: Error | undefined;
    let before = '';
    for (; i < 100 && !err; i++) {
      before = fs.readFileSync(journal(dir), 'utf8');
      try {
        store.update((s) => s.namespaces.insert({ ...record(`fill-${i}`, 589824 + i * 65536), handle: 'x'.repeat(300) }));
      } catch (e) {
        err = e as Error;
      }
    }
    t.regex(err?.message ?? '', /registry journal.*ENOSPC/);
    t.is(fs.readFileSync(journal(dir), 'utf8'), before, 'nothing of the failed change is left');
    const reopened = new RegistryStore(dir);
    reopened.open();
    t.is(reopened.read().namespaces.size, i, 'every change that succeeded is there');
    t.deepEqual(names(store), names(reopened));
    store.close();
    reopened.close();
  } finally {
    execFileSync('umount', [dir]);
  }
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
