import test from 'ava';
import { rootTest } from '../helpers/root';
import fs from 'node:fs';
import path from 'node:path';
import { BadFileDescriptor, Exists, InvalidArgument } from '../../src/errors';
import { closeQuietly, fdStatusFlags } from '../../src/native/fd';
import { callerOwnsDirectory, makeForeignDirectory } from '../../src/idmap/make-directory';
import { CALLER, FOREIGN, fdCount, makeTree, openPath, removeTree } from './fixture';
import { startExchangeRacer } from '../helpers/exchange-racer';
import { alice, bob } from '../helpers/users';

// Creating a directory owned by the foreign range needs CAP_CHOWN.

let tree: string;
test.before(() => {
  tree = makeTree('mkdir');
});
test.after.always(() => removeTree(tree));

function parent(name: string): { dir: string; fd: number } {
  const dir = path.join(tree, name);
  fs.mkdirSync(dir);
  return { dir, fd: openPath(dir) };
}

const made = test.macro({
  exec(t, mode: number | undefined, expectedMode: number) {
    const { dir, fd } = parent(`mode-${String(mode)}`);
    const before = fdCount();
    const made = makeForeignDirectory(fd, 'c', mode === undefined ? {} : { mode });
    try {
      const st = fs.statSync(path.join(dir, 'c'));
      t.deepEqual([st.uid, st.gid], [FOREIGN, FOREIGN]);
      t.is(st.mode & 0o7777, expectedMode);
      t.is(fs.fstatSync(made).ino, st.ino, 'the fd is the directory now at the name');
      const { O_DIRECTORY, O_RDONLY } = fs.constants;
      const O_ACCMODE = 3;
      t.is(fdStatusFlags(made) & (O_DIRECTORY | O_ACCMODE), O_DIRECTORY | O_RDONLY);
      t.deepEqual(fs.readdirSync(dir), ['c'], 'no temporary directory left');
    } finally {
      closeQuietly(made);
      closeQuietly(fd);
    }
    t.is(fdCount(), before - 1);
  },
  title: (_ = '', mode: number | undefined) =>
    `makes a foreign-root directory with mode ${mode === undefined ? 'default' : mode.toString(8)}`,
});

rootTest(made, undefined, 0o755);
rootTest(made, 0o700, 0o700);
rootTest(made, 0o777, 0o775);
rootTest(made, 0o4755, 0o755);
rootTest(made, 0o3770, 0o770);

rootTest('an existing name is Exists and leaves nothing behind', (t) => {
  const { dir, fd } = parent('exists');
  fs.writeFileSync(path.join(dir, 'taken'), 'mine');
  fs.mkdirSync(path.join(dir, 'takendir'));
  const before = fdCount();
  try {
    for (const name of ['taken', 'takendir']) {
      t.throws(() => makeForeignDirectory(fd, name), { instanceOf: Exists, message: `"${name}" already exists` });
    }
    t.deepEqual(fs.readdirSync(dir).sort(), ['taken', 'takendir']);
    t.is(fs.readFileSync(path.join(dir, 'taken'), 'utf8'), 'mine');
    t.is(fdCount(), before);
  } finally {
    closeQuietly(fd);
  }
});

rootTest('a bad name is refused before anything is created', (t) => {
  const { dir, fd } = parent('badname');
  try {
    for (const name of ['', '.', '..', 'a/b', 'a\0b', 'x'.repeat(256)]) {
      t.throws(() => makeForeignDirectory(fd, name), { instanceOf: InvalidArgument }, JSON.stringify(name));
    }
    t.deepEqual(fs.readdirSync(dir), []);
  } finally {
    closeQuietly(fd);
  }
});

rootTest('the parent must be a directory', (t) => {
  const file = path.join(tree, 'parent-file');
  fs.writeFileSync(file, '');
  const fd = openPath(file);
  try {
    t.throws(() => makeForeignDirectory(fd, 'c'), {
      instanceOf: BadFileDescriptor,
      message: 'parent: expected a directory, got a regular file',
    });
  } finally {
    closeQuietly(fd);
  }
});

rootTest('callerOwnsDirectory compares the owner of the fd', (t) => {
  const { dir, fd } = parent('owns');
  try {
    t.false(callerOwnsDirectory(fd, CALLER.uid));
    fs.chownSync(dir, CALLER.uid, CALLER.gid);
    t.true(callerOwnsDirectory(fd, CALLER.uid));
  } finally {
    closeQuietly(fd);
  }
});

rootTest('a caller swapping the new entry for another user\'s directory never gets that directory chowned', async (t) => {
  // alice owns `shared`; bob's private directory sits in it. alice's racer
  // exchanges every entry the daemon creates there with bob's directory.
  const shared = path.join(tree, 'exchange');
  fs.mkdirSync(shared);
  fs.chownSync(shared, alice.uid, alice.gid);
  const victim = path.join(shared, 'victim');
  fs.mkdirSync(victim, { mode: 0o700 });
  fs.writeFileSync(path.join(victim, 'secret'), 'bob only', { mode: 0o600 });
  fs.chownSync(path.join(victim, 'secret'), bob.uid, bob.gid);
  fs.chownSync(victim, bob.uid, bob.gid);
  const victimIno = fs.statSync(victim).ino;
  const fd = openPath(shared);
  const racer = await startExchangeRacer(alice, shared, 'victim', '.#nsmountd-');
  const tries = 400;
  let made = 0;
  let refused = 0;
  try {
    for (let i = 0; i < tries; i++) {
      try {
        const dir = makeForeignDirectory(fd, `made-${i}`);
        made++;
        const st = fs.fstatSync(dir);
        closeQuietly(dir);
        t.not(st.ino, victimIno, `try ${i}: the victim was handed out`);
        t.deepEqual([st.uid, st.gid, st.mode & 0o7777], [FOREIGN, FOREIGN, 0o755]);
      } catch (err) {
        refused++;
        t.regex((err as Error).message, /replaced by another entry/);
      }
      // Let the racer swap back before the next try.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  } finally {
    const swaps = await racer.stop();
    closeQuietly(fd);
    t.log(`${tries} tries: ${made} made, ${refused} refused as swapped; the racer swapped ${swaps} times`);
    t.true(swaps > 0, 'the racer never got to swap');
  }
  const found = fs.readdirSync(shared).filter((name) => fs.statSync(path.join(shared, name)).ino === victimIno);
  t.deepEqual(found, ['victim'], 'the victim stays where it was');
  const st = fs.statSync(victim);
  t.deepEqual([st.uid, st.gid, st.mode & 0o7777], [bob.uid, bob.gid, 0o700]);
  t.deepEqual(fs.readdirSync(victim), ['secret']);
  t.is(fs.readFileSync(path.join(victim, 'secret'), 'utf8'), 'bob only');
});
