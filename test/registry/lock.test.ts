// Another process holding the registry's flock must not freeze the
// daemon: Ping and calls that do not need the registry are answered at
// once, a call that needs it waits (without blocking the others) and
// either goes on when the lock comes free or fails with Unavailable after
// [daemon] registry_lock_timeout_sec.
import test, { type ExecutionContext } from 'ava';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { startTestStack, type TestStack } from '../helpers/stack';
import { callAs, type CallResult } from '../helpers/call';
import { runAsUser } from '../helpers/as-user';
import { CALL_CLIENT } from '../helpers/paths';
import { alice, bob } from '../helpers/users';
import { holdRegistryLock, waitFor, waitsForRegistryLock } from '../faults/fixture';

let patient: TestStack;
let impatient: TestStack;

test.before(async () => {
  if (rootSkipReason) return;
  [patient, impatient] = await Promise.all([
    startTestStack({ config: '[daemon]\nregistry_lock_timeout_sec = 600\n' }),
    startTestStack({ config: '[daemon]\nregistry_lock_timeout_sec = 1\n' }),
  ]);
});
test.after.always(async () => {
  await Promise.all([patient?.stop(), impatient?.stop()]);
});

async function ping(t: ExecutionContext, stack: TestStack): Promise<void> {
  const r = await runAsUser(bob, [
    process.execPath, CALL_CLIENT, '--address', stack.address,
    '--interface', 'org.freedesktop.DBus.Peer', '--member', 'Ping', '--signature', '', '--body', '[]',
  ]);
  t.is(r.code, 0, r.stderr);
  t.like(JSON.parse(r.stdout.trim().split('\n').pop()!), { ok: true });
}

/** Starts a call that needs the registry while the lock is held, and waits until the daemon says it waits for it. */
async function callWhileLocked(stack: TestStack): Promise<{ result: Promise<CallResult>; settled: () => boolean }> {
  const logFrom = stack.daemon.logs.length;
  let done = false;
  const result = callAs(alice, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['locked', 65536, {}], { timeoutMs: 120000 });
  void result.finally(() => (done = true));
  await waitFor('the call to wait for the registry lock', () => waitsForRegistryLock(stack.daemon.logs, logFrom));
  return { result, settled: () => done };
}

rootSerial('while another process holds the registry lock, Ping is answered and a waiting call goes on once it is free', async (t) => {
  const release = holdRegistryLock(patient.stateDir);
  let released = false;
  try {
    const waiting = await callWhileLocked(patient);
    await ping(t, patient);
    t.false(waiting.settled(), 'the call that needs the registry waits for it');
    release();
    released = true;
    const r = await waiting.result;
    t.true(r.ok, JSON.stringify(r));
  } finally {
    if (!released) release();
  }
});

rootSerial('a call that needs the registry fails with Unavailable once the lock was held past the timeout, and the daemon goes on', async (t) => {
  const release = holdRegistryLock(impatient.stateDir);
  try {
    const waiting = await callWhileLocked(impatient);
    const r = await waiting.result;
    t.false(r.ok);
    if (!r.ok) {
      t.is(r.name, 'org.nsmount.NsMount1.Error.Unavailable');
      t.regex(r.message, /the registry lock .*registry\.lock is held by another process for more than 1 s; try again later/);
    }
    await ping(t, impatient);
  } finally {
    release();
  }
  const r = await callAs(alice, impatient.address, 'ListUserNamespaces', 'a{sv}', [{}]);
  t.true(r.ok, JSON.stringify(r));
});
