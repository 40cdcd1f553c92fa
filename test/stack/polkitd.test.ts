import test from 'ava';
import type { MessageBus } from 'dbus-next';
import { nameHasOwner } from '../../src/stack/bus-connection';
import { POLKIT_NAME } from '../../src/stack/polkitd';
import { useTestStack } from '../helpers/use-test-stack';
import { checkAuthorization, idleProcessAs } from '../helpers/polkit';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { POLKIT_ACTIONS, FIXTURES } from '../helpers/paths';
import { alice, bob, carol, type TestUser } from '../helpers/users';
import path from 'node:path';

const GRANTED = 'org.nsmount.stacktest.granted';
const ADMIN = 'org.nsmount.stacktest.admin';
const DENY_BOB = `polkit.addRule(function (action, subject) {
  if (action.id == "${GRANTED}" && subject.user == "nsmtest-bob") return polkit.Result.NO;
});`;

const subjects = new Map<string, number>();

test.after.always(async () => {
  for (const pid of subjects.values()) process.kill(pid, 'SIGKILL');
});
const stack = useTestStack({
  daemon: false,
  actionFiles: [POLKIT_ACTIONS, path.join(FIXTURES, 'org.nsmount.stacktest.policy')],
  rules: DENY_BOB,
});
test.before(async () => {
  if (rootSkipReason) return;
  for (const user of [alice, bob, carol]) {
    const child = await idleProcessAs(user);
    subjects.set(user.name, child.pid);
  }
});

// Tests in this file change the one polkitd's rules: run them one by one.
const serial = rootSerial;

async function allowed(bus: MessageBus, user: TestUser | 'root', action: string): Promise<boolean> {
  const pid = user === 'root' ? process.pid : subjects.get(user.name)!;
  return (await checkAuthorization(bus, pid, action)).isAuthorized;
}

serial('polkitd owns its name on the stack bus and answers for the project\'s actions', async (t) => {
  t.true(await nameHasOwner(stack.connection, POLKIT_NAME));
  t.true(await allowed(stack.connection, 'root', 'org.nsmount.allocate-user-namespace'));
  t.true(await allowed(stack.connection, alice, 'org.nsmount.allocate-user-namespace'));
});

serial('initial rules apply from the start', async (t) => {
  t.true(await allowed(stack.connection, alice, GRANTED));
  t.false(await allowed(stack.connection, bob, GRANTED));
});

serial('setRules takes effect by the time it resolves, and replaces the previous rules', async (t) => {
  await stack.polkit.setRules(`polkit.addRule(function (action, subject) {
    if (action.id == "${GRANTED}" && subject.user == "nsmtest-alice") return polkit.Result.NO;
  });`);
  t.false(await allowed(stack.connection, alice, GRANTED));
  t.true(await allowed(stack.connection, bob, GRANTED));
  await stack.polkit.setRules(DENY_BOB);
  t.true(await allowed(stack.connection, alice, GRANTED));
  t.false(await allowed(stack.connection, bob, GRANTED));
});

serial('rules see test users\' groups', async (t) => {
  await stack.polkit.setRules(`polkit.addRule(function (action, subject) {
    if (action.id == "${ADMIN}" && subject.isInGroup("nsmtest-admins")) return polkit.Result.YES;
  });`);
  t.true(await allowed(stack.connection, carol, ADMIN));
  const forAlice = await checkAuthorization(stack.connection, subjects.get(alice.name)!, ADMIN);
  // auth_admin with no agent: refused with a challenge, at once.
  t.deepEqual([forAlice.isAuthorized, forAlice.isChallenge], [false, true]);
});

serial('host rules do not apply: only the stack\'s rules file is loaded', async (t) => {
  await stack.polkit.setRules('');
  const loaded = stack.polkit.logs.filter((l) => /Finished loading, compiling and executing \d+ rules/.test(l)).pop();
  // One rule: the stack's own generation probe.
  t.regex(loaded ?? '', /executing 1 rules/);
});

serial('rules that do not compile are reported by setRules', async (t) => {
  await t.throwsAsync(stack.polkit.setRules('polkit.addRule(function ('), { message: /polkitd rejected the rules[\s\S]*SyntaxError/ });
  await stack.polkit.setRules(DENY_BOB);
  t.false(await allowed(stack.connection, bob, GRANTED));
});

serial('restart keeps the current rules', async (t) => {
  const before = stack.polkit.pid;
  await stack.polkit.restart();
  t.not(stack.polkit.pid, before);
  t.false(await allowed(stack.connection, bob, GRANTED));
  t.true(await allowed(stack.connection, alice, GRANTED));
});
