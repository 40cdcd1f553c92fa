import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice, bob } from '../helpers/users';
import { nsmountctl, isOneLineError } from '../helpers/nsmountctl';
import { userDirectory } from '../helpers/user-dirs';
import { buildRootfsTarball, ROOTFS_ENTRIES, HARD_LINK, type RootfsEntry } from '../helpers/rootfs';

const FOREIGN = 2147352576;

let tarball: string;
let imported: string;
let importResult: { code: number | null; stdout: string; stderr: string };

const stack = useTestStack();
test.before(async () => {
  if (rootSkipReason) return;
  const home = userDirectory(stack.baseDir, alice, 'alice-home');
  // Only alice may read the archive: the namespace's root must not need to.
  tarball = buildRootfsTarball(home);
  fs.chownSync(tarball, alice.uid, alice.gid);
  fs.chmodSync(tarball, 0o600);
  imported = path.join(home, 'rootfs');
  importResult = await nsmountctl(alice, stack.address, ['import-tar', tarball, imported]);
});

rootTest('import-tar succeeds as an unprivileged user and warns once per device node', (t) => {
  t.is(importResult.code, 0, importResult.stderr);
  t.is(importResult.stdout, `imported ${tarball} into ${imported} (1 device node(s) skipped)\n`);
  t.deepEqual(importResult.stderr.trim().split('\n'), [
    'warning: skipping character device ./dev/null (1,3): a user namespace cannot create device nodes',
  ]);
});

const landsAsForeign = test.macro<[RootfsEntry]>({
  exec(t, entry) {
    const p = path.join(imported, entry.path);
    if (entry.type === 'char') {
      t.false(fs.existsSync(p), 'device nodes are skipped');
      return;
    }
    const st = fs.lstatSync(p);
    t.is(st.uid, FOREIGN + entry.uid, 'owner');
    t.is(st.gid, FOREIGN + entry.gid, 'group');
    if (entry.type === 'symlink') {
      t.true(st.isSymbolicLink());
      t.is(fs.readlinkSync(p), entry.target ?? "");
    } else {
      t.is(st.mode & 0o7777, entry.mode, `mode 0${(st.mode & 0o7777).toString(8)}`);
      t.is(entry.type === 'fifo' ? st.isFIFO() : entry.type === 'dir' ? st.isDirectory() : st.isFile(), true, 'type');
    }
  },
  title: (_provided, entry: RootfsEntry) => `import-tar keeps ${entry.type} ${entry.path} (${entry.uid}:${entry.gid} 0${entry.mode.toString(8)})`,
});

for (const entry of ROOTFS_ENTRIES) rootTest(landsAsForeign, entry);

rootTest('import-tar keeps hard links as one inode with two links', (t) => {
  const a = fs.statSync(path.join(imported, HARD_LINK.first));
  const b = fs.statSync(path.join(imported, HARD_LINK.second));
  t.is(a.ino, b.ino);
  t.is(a.nlink, 2);
});

rootTest('the imported root directory itself belongs to the foreign root', (t) => {
  const st = fs.statSync(imported);
  t.is(st.uid, FOREIGN);
  t.true(st.isDirectory());
});

rootTest('import-tar refuses a directory that exists, in one line', async (t) => {
  const result = await nsmountctl(alice, stack.address, ['import-tar', tarball, imported]);
  t.is(result.code, 1);
  t.true(isOneLineError(result.stderr), result.stderr);
  t.regex(result.stderr, /exists/);
});

rootTest('import-tar refuses a parent the caller does not own', async (t) => {
  const bobs = userDirectory(stack.baseDir, bob, 'bob-home');
  const copy = path.join(bobs, 'readable.tar');
  fs.copyFileSync(tarball, copy);
  fs.chmodSync(copy, 0o644);
  const result = await nsmountctl(alice, stack.address, ['import-tar', copy, path.join(bobs, 'x')]);
  t.not(result.code, 0);
  t.true(isOneLineError(result.stderr), result.stderr);
  t.false(fs.existsSync(path.join(bobs, 'x')));
});
