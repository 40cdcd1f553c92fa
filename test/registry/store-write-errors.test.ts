// RegistryStore writes that the filesystem refuses (read-only, full): the
// change fails whole and the previous registry stays.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootTest } from '../helpers/root';
import { RegistryStore } from '../../src/registry/store';
import { record, freshDir, names, journal } from './store-fixture';

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
