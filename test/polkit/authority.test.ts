// The polkit authority client against the stack's real polkitd: each kind
// of answer, the details a rule sees, and a deny whenever polkit cannot
// give a clear yes.
import test from 'ava';
import type dbus from 'dbus-next';
import { connectBus } from '../../src/bus/connection';
import { PolkitAuthority, type AuthorizationRequest } from '../../src/polkit/authority';
import { safeDisconnect } from '../../src/stack/bus-connection';
import { joinBus, type BusPeer } from '../helpers/bus-peer';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice, bob, dave, type TestUser } from '../helpers/users';

const ALLOCATE = 'org.nsmount.allocate-user-namespace';
const UNTRUSTED = 'org.nsmount.mount-image-untrusted';
/** What the rule grants: the path with its line break shown as U+FFFD, as a person would see it. */
const VETTED = '/srv/vetted/x\uFFFD.img';

const stack = useTestStack({
  daemon: false,
  rules: `polkit.addRule(function (action, subject) {
    if (action.id == "${ALLOCATE}" && subject.user == "${bob.name}") return polkit.Result.NO;
    if (action.id == "${ALLOCATE}" && subject.user == "${dave.name}") return polkit.Result.AUTH_ADMIN;
    if (action.id == "${UNTRUSTED}" && subject.user == "${alice.name}") {
      return action.lookup("image") == ${JSON.stringify(VETTED)} ? polkit.Result.YES : polkit.Result.NO;
    }
  });`,
});

let service: dbus.MessageBus;
let authority: PolkitAuthority;
test.before(async () => {
  if (rootSkipReason) return;
  service = await connectBus({ address: stack.address });
  authority = new PolkitAuthority(service);
});
test.after.always(() => {
  if (service) safeDisconnect(service);
});

async function peer(t: { teardown(fn: () => Promise<void>): void }, user: TestUser): Promise<BusPeer> {
  const joined = await joinBus(user, stack.address);
  t.teardown(() => joined.leave());
  return joined;
}

// The uid only picks the queue the check waits in; polkit learns the caller from the bus name.
const ask = (sender: string, action: string, more: Partial<AuthorizationRequest> = {}) =>
  authority.check({ sender, uid: 1, action, details: {}, interactive: false, ...more });

rootSerial('an action allowed to anyone is authorized, and root always is', async (t) => {
  t.deepEqual(await ask((await peer(t, alice)).name, ALLOCATE), { kind: 'authorized' });
  t.deepEqual(await ask((service as unknown as { name: string }).name, UNTRUSTED), { kind: 'authorized' });
});

rootSerial('a rule saying no is a denial by policy', async (t) => {
  t.deepEqual(await ask((await peer(t, bob)).name, ALLOCATE), { kind: 'denied', polkitUnreachable: false });
});

rootSerial('authentication required is a challenge, interactive or not, when no agent is there', async (t) => {
  const caller = await peer(t, dave);
  t.deepEqual(await ask(caller.name, ALLOCATE), { kind: 'challenge' });
  t.deepEqual(await ask(caller.name, ALLOCATE, { interactive: true }), { kind: 'challenge' });
});

rootSerial('details reach the rules, with control characters shown, not passed through', async (t) => {
  const caller = await peer(t, alice);
  t.deepEqual(await ask(caller.name, UNTRUSTED, { details: { image: '/srv/vetted/x\n.img' } }), { kind: 'authorized' });
  t.like(await ask(caller.name, UNTRUSTED, { details: { image: '/srv/vetted/x.img' } }), { kind: 'denied' });
});

rootSerial('a caller gone from the bus is denied, polkit being unable to judge it', async (t) => {
  const caller = await peer(t, alice);
  await caller.leave();
  const result = await ask(caller.name, ALLOCATE);
  t.like(result, { kind: 'denied', polkitUnreachable: true });
  if (result.kind === 'denied') t.regex(result.cause ?? '', /NameHasNoOwner/);
});

rootSerial('with polkitd gone every request is denied as unreachable', async (t) => {
  const caller = await peer(t, alice);
  await stack.polkit.stop();
  try {
    t.like(await ask(caller.name, ALLOCATE), { kind: 'denied', polkitUnreachable: true });
  } finally {
    await stack.polkit.restart();
  }
  t.deepEqual(await ask(caller.name, ALLOCATE), { kind: 'authorized' });
});
