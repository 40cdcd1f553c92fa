// The caller directory against a real bus: who a unique name is comes from
// the bus daemon alone, and any failure to learn it is a refusal.
import test from 'ava';
import dbus from 'dbus-next';
import { CallerDirectory } from '../../src/bus/caller';
import { followNameOwners } from '../../src/bus/name-owners';
import { connectBus } from '../../src/bus/connection';
import { NotAuthorized } from '../../src/errors';
import { safeDisconnect } from '../../src/stack/bus-connection';
import { joinBus, type BusPeer } from '../helpers/bus-peer';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice, carol } from '../helpers/users';

const stack = useTestStack({ daemon: false });

let service: dbus.MessageBus;
/** Fed NameOwnerChanged, as the daemon's is. */
let callers: CallerDirectory;

test.before(async () => {
  if (rootSkipReason) return;
  service = await connectBus({ address: stack.address });
  callers = new CallerDirectory(service);
  await followNameOwners(service, callers);
});
test.after.always(() => {
  if (service) safeDisconnect(service);
});

async function peer(t: { teardown(fn: () => Promise<void>): void }, user = alice): Promise<BusPeer> {
  const joined = await joinBus(user, stack.address);
  t.teardown(() => joined.leave());
  return joined;
}

async function until(what: string, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

rootSerial('a caller is the uid and pid the bus reports, with the primary group from the user database', async (t) => {
  const caller = await peer(t, carol);
  const found = await callers.lookup(caller.name);
  // carol is also in nsmtest-admins; the primary group is what the account says.
  t.deepEqual(found, { sender: caller.name, uid: carol.uid, gid: carol.gid, pid: caller.pid });
  t.true(await callers.stillConnected(caller.name));
  t.false(callers.hasVanished(caller.name));
});

rootSerial('a message without a sender is refused', async (t) => {
  await t.throwsAsync(() => callers.lookup(undefined), { instanceOf: NotAuthorized, message: /could not tell who is calling/ });
});

rootSerial('a name the bus does not know is refused, not guessed', async (t) => {
  await t.throwsAsync(() => callers.lookup(':1.999999'), { instanceOf: NotAuthorized, message: /could not ask the bus who is calling/ });
});

rootSerial('a caller that left is known to be gone, and refused', async (t) => {
  const caller = await peer(t);
  await callers.lookup(caller.name);
  await caller.leave();
  await until('NameOwnerChanged for the peer', () => callers.hasVanished(caller.name));
  t.false(await callers.stillConnected(caller.name));
  // The cached entry went with the name.
  await t.throwsAsync(() => callers.lookup(caller.name), { instanceOf: NotAuthorized, message: /left the bus/ });
});

rootSerial('without NameOwnerChanged, stillConnected asks the bus', async (t) => {
  const unfed = new CallerDirectory(service);
  const caller = await peer(t);
  t.true(await unfed.stillConnected(caller.name));
  await caller.leave();
  await until('the peer to leave the bus', async () => !(await unfed.stillConnected(caller.name)));
  t.false(unfed.hasVanished(caller.name));
});

rootSerial('a uid the directory is told to refuse is refused with its reason', async (t) => {
  const refusing = new CallerDirectory(service, { refuseUid: (uid) => (uid === alice.uid ? 'alice is a container id here' : undefined) });
  const caller = await peer(t);
  await t.throwsAsync(() => refusing.lookup(caller.name), { instanceOf: NotAuthorized, message: 'alice is a container id here' });
  const other = await peer(t, carol);
  t.is((await refusing.lookup(other.name)).uid, carol.uid);
});
