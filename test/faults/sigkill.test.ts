// nsmountd killed with SIGKILL mid-call. Whatever point it dies at, the
// restarted daemon must find: no block recorded twice, every namespace a
// client still holds in the registry, every mount it attached in the
// registry (so its owner can list and unmount it), and no loop device that
// is not behind an attached mount.
//
// Two kinds of kill points:
// - chosen: the test holds the registry's flock, so the call waits (without
//   stalling the daemon) for the lock before its act, and the daemon is
//   killed there; its log tells when it waits;
// - random, seeded: bursts of AllocateUserNamespace, MakeDirectory and
//   Mount with AttachTo, killed after a random number of calls plus a
//   random delay. NSMOUNTD_FAULT_SEED replays a run.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v, type CallResult } from '../helpers/call';
import { holdNamespaces, type Holder } from '../helpers/holder';
import { runSession, type SessionResult, type SessionStep } from '../helpers/session';
import { alice, bob } from '../helpers/users';
import { makeExt4, tempDir } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';
import { busyLoopDevices, holdRegistryLock, logEntries, mountsBelow, readRegistry, seededRandom, sleep, waitFor, waitsForRegistryLock } from './fixture';

let work: string;
let image: string;
/** The configured, trusted image directory. */
let images: string;
/** Where test users' directories and mount points live. */
let homes: string;

test.before(async () => {
  if (rootSkipReason) return;
  work = tempDir('nsmountd-sigkill-');
  fs.chmodSync(work, 0o755);
  images = path.join(work, 'images');
  fs.mkdirSync(images, { mode: 0o755 });
  image = makeExt4(work, 'kill.ext4', { sizeMiB: 8, files: { 'hello.txt': 'x\n' } });
  fs.renameSync(image, (image = path.join(images, 'kill.ext4')));
  homes = path.join(work, 'homes');
  fs.mkdirSync(homes, { mode: 0o755 });
  for (const user of [alice, bob]) userDir(user.name, user);
});
const stack = useTestStack(() => ({ config: `[images]\ndirectories = [${JSON.stringify(images)}]\n` }));
test.after.always(async () => {
  if (work) {
    for (const m of mountsBelow('self', homes).reverse()) execFileSync('umount', ['-l', m.mountPoint]);
    removeTree(work);
  }
});

function userDir(relative: string, owner: typeof alice): string {
  const dir = path.join(homes, relative);
  fs.mkdirSync(dir);
  fs.chownSync(dir, owner.uid, owner.gid);
  return dir;
}

const pathDir = (p: string) => ({ $fd: p, mode: 'path-dir' });

// Bounds on waits for events that do come, only so that a real hang ends
// with a message: on a loaded machine they take long, and each wait
// returns as soon as its event happened.
const HANG_MS = 120_000;
const SETTLE_MS = 30_000;

/**
 * What a restarted daemon must have, whatever the kill point: no block
 * twice, each attached mount below `homes` recorded (and each record
 * attached: reconcile ran at start), each loop device of our image behind
 * one of those mounts.
 */
async function assertNothingOrphaned(t: ExecutionContext): Promise<void> {
  const registry = readRegistry(stack.stateDir);
  const bases = registry.namespaces.map((n) => n.base);
  t.is(new Set(bases).size, bases.length, `a block recorded twice: ${bases.join(' ')}`);
  const names = registry.namespaces.map((n) => `${n.ownerUid}/${n.name}`);
  t.is(new Set(names).size, names.length, 'a name recorded twice for one owner');

  const attached = mountsBelow(stack.daemon.pid, homes);
  const listed = await callAs('root', stack.address, 'ListMounts', 'a{sv}', [{}]);
  if (!listed.ok) return t.fail(listed.message);
  const listedTargets = new Set((listed.body[0] as Array<[string]>).map((m) => m[0]));
  for (const m of attached) {
    t.true(
      registry.mounts.some((r) => r.target === m.mountPoint && r.legacyMountId === m.mountId) && listedTargets.has(m.mountPoint),
      `${m.mountPoint} (mount ${m.mountId}, ${m.source}) is attached but not recorded or not listed: an orphan nobody can Unmount`,
    );
  }
  for (const r of registry.mounts) {
    t.true(
      attached.some((m) => m.mountPoint === r.target && m.mountId === r.legacyMountId),
      `${r.target} is recorded but not attached, and reconcile kept it`,
    );
  }
  // Autoclear trails the last close of a killed daemon's fds by a moment,
  // a long one on a loaded machine.
  const sources = new Set(attached.map((m) => m.source));
  const stray = await waitFor('loop devices to settle', () => {
    const left = busyLoopDevices(work).filter((dev) => !sources.has(dev));
    return left.length === 0 ? [] : undefined;
  }, SETTLE_MS).catch(() => busyLoopDevices(work).filter((dev) => !sources.has(dev)));
  t.deepEqual(stray, [], 'loop devices with no attached mount');
}

/** Detaches what the daemon attached below `homes`, behind its back: the next start's reconcile drops the records. */
function detachAll(): void {
  for (const m of mountsBelow(stack.daemon.pid, homes).reverse()) execFileSync('umount', ['-l', m.mountPoint]);
}

interface ChosenCase {
  what: string;
  call: (n: number) => { user: typeof alice; member: string; signature: string; body: unknown[] };
}

let chosenCount = 0;
const killedAtRegistryWrite = test.macro({
  async exec(t, c: ChosenCase) {
    const n = chosenCount++;
    const { user, member, signature, body } = c.call(n);
    const logFrom = stack.daemon.logs.length;
    const release = holdRegistryLock(stack.stateDir);
    let pending: Promise<CallResult> | undefined;
    try {
      pending = callAs(user, stack.address, member, signature, body);
      let answered = false;
      void pending.then(() => (answered = true));
      // The client starts slowly on a loaded machine: wait for the daemon's
      // word, not for a fixed time; an answer first means it never waited.
      await waitFor(`nsmountd to block on the registry lock in ${member}`, () => waitsForRegistryLock(stack.daemon.logs, logFrom) || answered, HANG_MS);
      if (!waitsForRegistryLock(stack.daemon.logs, logFrom)) throw new Error(`${member} was answered without waiting for the registry lock: ${JSON.stringify(await pending)}`);
      await stack.daemon.stop('SIGKILL');
    } finally {
      release();
    }
    const r = await pending;
    t.false(r.ok, 'the killed call was not answered with a success');
    await stack.daemon.start();
    try {
      await assertNothingOrphaned(t);
    } finally {
      // Failed assertions throw; later cases must not inherit this one's mounts.
      detachAll();
    }
  },
  title: (_provided, c: ChosenCase) => `SIGKILL while ${c.what} waits for the registry lock: nothing orphaned after restart`,
});

rootSerial(killedAtRegistryWrite, {
  what: 'Mount with AttachTo',
  call: (n) => ({
    user: alice,
    member: 'Mount',
    signature: 'ha{sv}',
    body: [{ $fd: image, mode: 'r' }, { AttachTo: v('h', pathDir(userDir(`nsmountd-chosen-mnt-${n}`, alice))) }],
  }),
});

rootSerial(killedAtRegistryWrite, {
  what: 'IdmapDirectory with AttachTo',
  call: (n) => ({
    user: alice,
    member: 'IdmapDirectory',
    signature: 'ha{sv}',
    body: [
      pathDir(userDir(`nsmountd-chosen-tree-${n}`, alice)),
      { Mode: v('s', 'identity'), AttachTo: v('h', pathDir(userDir(`nsmountd-chosen-idmap-${n}`, alice))) },
    ],
  }),
});

rootSerial(killedAtRegistryWrite, {
  what: 'AllocateUserNamespace',
  call: (n) => ({ user: bob, member: 'AllocateUserNamespace', signature: 'sua{sv}', body: [`chosen-${n}`, 0, {}] }),
});

const ROUNDS = 4;
const seed = Number(process.env.NSMOUNTD_FAULT_SEED ?? Date.now() % 1_000_000);
// Drawn up front, so that each round is a test of its own (ava's timeout
// counts per test: four rounds in one test outlasted it under load) and a
// seed still replays every round.
const random = seededRandom(seed);
const rounds = Array.from({ length: ROUNDS }, () => ({ killAfterCalls: 1 + Math.floor(random() * 40), extraDelayMs: Math.floor(random() * 20) }));
/** Namespaces of every round, held to the end of the file. */
const holders: Holder[] = [];
test.after.always(async () => {
  await Promise.all(holders.map((h) => h.release()));
});

const killedAtRandom = test.macro({
  async exec(t, round: number) {
    t.log(`seed ${seed} (replay with NSMOUNTD_FAULT_SEED=${seed})`);
    const { killAfterCalls, extraDelayMs } = rounds[round];
    const logFrom = stack.daemon.logs.length;
    const callsSoFar = () => logEntries(stack.daemon.logs, logFrom).filter((e) => e.msg === 'call').length;

    const steps: SessionStep[] = [];
    for (let i = 0; i < 10; i++) {
      const parent = userDir(`r${round}-parent-${i}`, alice);
      steps.push({ name: `dir${i}`, member: 'MakeDirectory', signature: 'hsa{sv}', body: [pathDir(parent), 'made', {}] });
      const target = userDir(`r${round}-mnt-${i}`, alice);
      steps.push({
        name: `mnt${i}`,
        member: 'Mount',
        signature: 'ha{sv}',
        body: [{ $fd: image, mode: 'r' }, { AttachTo: v('h', pathDir(target)) }],
      });
    }
    const burst = {
      holders: [alice, bob].map((u) =>
        holdNamespaces(u, stack.address, Array.from({ length: 12 }, (_, i) => `r${round}-${i}`), { parallel: true }),
      ),
      session: runSession(alice, stack.address, steps),
    };
    // The burst's clients start slowly on a loaded machine: wait for the
    // calls themselves, or for the burst to end short of the kill point
    // (the kill then finds an idle daemon, still a valid point).
    let burstOver = false;
    void Promise.allSettled([...burst.holders, burst.session]).then(() => (burstOver = true));
    await waitFor('the burst to reach the kill point', () => callsSoFar() >= killAfterCalls || burstOver, HANG_MS);
    await sleep(extraDelayMs);
    await stack.daemon.stop('SIGKILL');
    const roundHolders = await Promise.all(burst.holders);
    holders.push(...roundHolders);
    const session: SessionResult = await burst.session;
    t.log(
      `round ${round}: killed after ${killAfterCalls} calls + ${extraDelayMs} ms;`,
      `${roundHolders.flatMap((h) => h.results).filter((r) => r.ok).length}/24 namespaces,`,
      `${Object.values(session.steps).filter((s) => s.ok).length}/20 directory and mount calls succeeded`,
    );

    await stack.daemon.start();
    try {
      await assertNothingOrphaned(t);
      // Every namespace a client holds is still known, with its block.
      const registry = readRegistry(stack.stateDir);
      for (const [user, holder] of [alice, bob].map((u, i) => [u, roundHolders[i]] as const)) {
        for (const r of holder.results.filter((x) => x.ok)) {
          t.true(
            registry.namespaces.some((n) => n.ownerUid === user.uid && n.name === r.name && n.base === r.base),
            `${user.name}'s live ${r.name} (base ${r.base}) is not in the registry`,
          );
        }
      }
      // Every mount whose caller heard "ok" is attached and recorded.
      for (let i = 0; i < 10; i++) {
        if (!session.steps[`mnt${i}`]?.ok) continue;
        const target = path.join(homes, `r${round}-mnt-${i}`);
        t.true(registry.mounts.some((m) => m.target === target), `${target} was reported mounted but is not recorded`);
      }
    } finally {
      detachAll();
    }
  },
  title: (_provided, round: number) =>
    `SIGKILL at a seeded random point of burst ${round + 1}/${ROUNDS}: no double allocation, live namespaces known, nothing orphaned`,
});

for (let round = 0; round < ROUNDS; round++) rootSerial(killedAtRandom, round);
