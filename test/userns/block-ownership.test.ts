// A block once handed to a user is only ever handed to that user again:
// its namespace may have left files owned by its host ids (a setuid shell
// in /tmp), which would be a key to the next tenant's containers. A pool
// of two blocks shows it in a few calls.
import test from 'ava';
import fs from 'node:fs';
import { rootSerial } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { holdNamespaces } from '../helpers/holder';
import { callAs, type CallResult } from '../helpers/call';
import { alice, bob, carol, foreignIdUser, pooledIdUser, type TestUser } from '../helpers/users';

// Three blocks; NSS knows pooledIdUser in the third, so two are usable.
const FIRST = 0x70020000;
const POOL = `[pool]\nfirst = ${FIRST}\nlast = ${FIRST + 3 * 65536 - 1}\nquota_per_uid = 2\nreclaim_interval_sec = 3600\n`;
const EXHAUSTED = 'org.nsmount.NsMount1.Error.RangeExhausted';

const stack = useTestStack({ config: POOL });

const allocate = (user: TestUser | 'root', name: string) => callAs(user, stack.address, 'AllocateUserNamespace', 'sua{sv}', [name, 0, {}]);

/** A namespace is torn down some tens of ms after its last fd closes: ask until `done` says the answer settled. */
async function allocateUntil(user: TestUser, name: string, done: (r: CallResult) => boolean): Promise<CallResult> {
  const until = Date.now() + 5000;
  for (;;) {
    const r = await allocate(user, name);
    if (done(r) || Date.now() > until) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const refusedForOthers = (r: CallResult) => !r.ok && /last used by other users/.test(r.message);

rootSerial('a block goes back only to the user who held it, also after a restart', async (t) => {
  const a = await holdNamespaces(alice, stack.address, ['mine']);
  const aliceBase = a.results[0].base;
  t.true(a.results[0].ok, a.results[0].message);
  const b = await holdNamespaces(bob, stack.address, ['other']);
  try {
    t.true(b.results[0].ok, b.results[0].message);
    t.not(b.results[0].base, aliceBase);
    await a.release();

    for (const round of ['before', 'after'] as const) {
      // Only alice's former block is free now.
      for (const user of [bob, carol]) {
        const refused = await allocateUntil(user, `want-${round}`, refusedForOthers);
        t.false(refused.ok, `${user.name} got alice's block ${round} the restart`);
        if (!refused.ok) {
          t.is(refused.name, EXHAUSTED);
          t.regex(refused.message, new RegExp(`free for uid ${user.uid}: the 1 free block was last used by other users`));
        }
      }
      const back = await allocateUntil(alice, `back-${round}`, (r) => r.ok);
      t.true(back.ok, back.ok ? '' : `${back.name}: ${back.message}`);
      if (back.ok) t.is(back.body[1], aliceBase, `alice gets her own block back ${round} the restart`);
      if (round === 'before') await stack.daemon.restart();
    }
  } finally {
    await a.release();
    await b.release();
  }
});

rootSerial('pool.reuse_across_users lets a block change hands', async (t) => {
  const original = fs.readFileSync(stack.configPath, 'utf8');
  fs.writeFileSync(stack.configPath, `${POOL}reuse_across_users = true\n`);
  await stack.daemon.restart();
  const b = await holdNamespaces(bob, stack.address, ['bobs']);
  try {
    const a = await holdNamespaces(alice, stack.address, ['alices']);
    const aliceBase = a.results[0].base;
    t.true(a.results[0].ok, a.results[0].message);
    await a.release();
    const moved = await allocateUntil(carol, 'carols', (r) => r.ok);
    t.true(moved.ok, moved.ok ? '' : `${moved.name}: ${moved.message}`);
    if (moved.ok) t.is(moved.body[1], aliceBase);
  } finally {
    await b.release();
    fs.writeFileSync(stack.configPath, original);
    await stack.daemon.restart();
  }
});

// A process inside a namespace reaches the bus with its host id (dbus-broker
// admits any uid; dbus-daemon those NSS resolves); served, it would get a
// quota (and blocks) of its own per uid it switches to.
const containerCaller = test.macro({
  async exec(t, user: TestUser, reason: RegExp) {
    const r = await allocate(user, 'x');
    t.false(r.ok);
    if (!r.ok) {
      t.is(r.name, 'org.nsmount.NsMount1.Error.NotAuthorized', r.message);
      t.regex(r.message, reason);
    }
    // The same call from a user is not refused for who it comes from (it may find no block).
    const control = await allocate(alice, 'control');
    if (!control.ok) t.not(control.name, 'org.nsmount.NsMount1.Error.NotAuthorized', control.message);
  },
  title: (what) => `a caller whose uid lies in ${what} is refused, with the reason`,
});
rootSerial('the pool', containerCaller, pooledIdUser, new RegExp(`uid ${pooledIdUser.uid} lies in nsmountd's pool ${FIRST}\\.\\.`));
rootSerial('the foreign range', containerCaller, foreignIdUser, new RegExp(`uid ${foreignIdUser.uid} lies in the foreign range`));
