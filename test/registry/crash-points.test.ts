// A crash at every write, sync and rename of a change that frees a block
// and of the compaction after it: the restarted registry keeps the block
// either busy with its owner's record or freed as that owner's, never
// anyone else's and never lost, and the other user's block stays busy.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { RegistryStore } from '../../src/registry/store';
import { record, mount, freshDir } from './store-fixture';
import { ALICE, ALICE_BLOCK, BOB, BOB_BLOCK, CHURN } from './crash-points-child';

const CHILD = path.join(__dirname, 'crash-points-child.js');
/** The compaction threshold's base (store.ts JOURNAL_SLACK). */
const JOURNAL_SLACK = 1024;

/** alice's and bob's namespaces, and a journal a few changes short of compaction. */
function template(): string {
  const dir = freshDir();
  const store = new RegistryStore(dir);
  store.open();
  store.update((s) => {
    s.namespaces.insert({ ...record('a', ALICE_BLOCK), ownerUid: ALICE });
    s.namespaces.insert({ ...record('b', BOB_BLOCK), ownerUid: BOB });
  });
  for (let i = 1; i < JOURNAL_SLACK - CHURN / 2; i++) store.update((s) => (i % 2 ? s.mounts.insert(mount(1)) : s.mounts.delete('1')));
  store.close();
  return dir;
}

function copyOf(dir: string): string {
  const copy = freshDir();
  fs.cpSync(dir, copy, { recursive: true });
  return copy;
}

function check(dir: string): string[] {
  const store = new RegistryStore(dir);
  store.open();
  try {
    return store.update((s, freed) => {
      const problems: string[] = [];
      const alices = s.namespaces.get(String(ALICE_BLOCK));
      if (alices) {
        if (alices.ownerUid !== ALICE) problems.push(`alice's block is busy for uid ${alices.ownerUid}`);
        if (freed.has(ALICE_BLOCK)) problems.push("alice's block is both busy and free");
      } else if (freed.ownerOf(ALICE_BLOCK) !== ALICE) {
        problems.push(`alice's block is free as ${String(freed.ownerOf(ALICE_BLOCK))}'s`);
      }
      if (s.namespaces.get(String(BOB_BLOCK))?.ownerUid !== BOB) problems.push("bob's record is gone");
      if (freed.has(BOB_BLOCK)) problems.push("bob's busy block is free");
      return problems;
    });
  } finally {
    store.close();
  }
}

test('a SIGKILL at any write, sync or rename never frees a block as another user\'s or loses it', (t) => {
  const base = template();
  let compacted = false;
  for (let at = 1; ; at++) {
    const dir = copyOf(base);
    const run = spawnSync(process.execPath, [CHILD, dir, String(at)], { encoding: 'utf8' });
    const problems = check(dir);
    t.deepEqual(problems, [], `killed at step ${at}`);
    if (run.signal === 'SIGKILL') continue;
    t.is(run.stdout, 'done\n', run.stderr);
    compacted = JSON.parse(fs.readFileSync(path.join(dir, 'registry.json'), 'utf8')).generation === 1;
    t.true(at > 10, `only ${at - 1} kill points`);
    break;
  }
  t.true(compacted, 'the story crossed a compaction');
});
