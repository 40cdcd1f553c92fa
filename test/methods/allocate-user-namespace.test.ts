import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v, type CallResult } from '../helpers/call';
import { alice, bob, carol, dave } from '../helpers/users';

const ERR = 'org.nsmount.NsMount1.Error.';

const stack = useTestStack();

function expectOk(t: ExecutionContext, r: CallResult): Extract<CallResult, { ok: true }> {
  if (!r.ok) t.fail(`${r.name}: ${r.message}`);
  return r as Extract<CallResult, { ok: true }>;
}

function expectError(t: ExecutionContext, r: CallResult, name: string, pattern?: RegExp): void {
  t.false(r.ok, 'call should fail');
  if (r.ok) return;
  t.is(r.name, name.includes('.') ? name : ERR + name, r.message);
  if (pattern) t.regex(r.message, pattern);
}

const allocate = (user: typeof alice | 'root', name: string, size = 0, opts: Parameters<typeof callAs>[5] = {}, options: object = {}) =>
  callAs(user, stack.address, 'AllocateUserNamespace', 'sua{sv}', [name, size, options], opts);

rootTest.serial('an unprivileged user gets a namespace it owns and is root inside', async (t) => {
  const r = expectOk(
    t,
    await allocate(alice, 'first', 0, {
      then: 'cat /proc/self/fd/$FD0 >/dev/null 2>&1; nsenter --user=/proc/self/fd/$FD0 sh -c "id -u; cat /proc/self/uid_map /proc/self/gid_map"',
    }),
  );
  const [, base, size] = r.body as [number, number, number];
  t.is(size, 65536);
  t.is(base % 65536, 0);
  t.true(base >= 524288 && base + size - 1 <= 1879048191);
  t.is(r.fds[0].nsOwnerUid, alice.uid);
  t.is(r.then?.code, 0, r.then?.stderr);
  const lines = r.then!.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  t.deepEqual(lines[0], [0]);
  t.deepEqual(lines[1], [0, base, 65536]);
  t.deepEqual(lines[2], [0, base, 65536]);
});

rootTest.serial('a smaller size maps only that many ids but still takes a whole block', async (t) => {
  const r = expectOk(t, await allocate(alice, 'small', 1000, { then: 'nsenter --user=/proc/self/fd/$FD0 cat /proc/self/uid_map' }));
  const [, base, size] = r.body as [number, number, number];
  t.is(size, 1000);
  t.is(base % 65536, 0);
  t.deepEqual(r.then!.stdout.trim().split(/\s+/).map(Number), [0, base, 1000]);
});

rootTest.serial('two users get disjoint ranges, avoiding /etc/subuid delegations', async (t) => {
  const [a, b] = await Promise.all([allocate(alice, 'disjoint'), allocate(bob, 'disjoint')]);
  const ra = expectOk(t, a);
  const rb = expectOk(t, b);
  const baseA = ra.body[1] as number;
  const baseB = rb.body[1] as number;
  t.not(baseA, baseB);
  t.true(Math.abs(baseA - baseB) >= 65536);
  for (const user of [alice, bob]) {
    const start = user.subids!.start;
    for (const base of [baseA, baseB]) t.false(base < start + user.subids!.count && start < base + 65536, 'overlaps a subuid range');
  }
});

const badArguments = test.macro({
  async exec(t, body: unknown[], signature: string, name: string, pattern: RegExp) {
    const r = await callAs(alice, stack.address, 'AllocateUserNamespace', signature, body);
    expectError(t, r, name, pattern);
  },
  title: (title) => `invalid: ${title}`,
});

rootTest('empty name', badArguments, ['', 0, {}], 'sua{sv}', 'InvalidArgument', /^name: /);
rootTest('name with a slash', badArguments, ['a/b', 0, {}], 'sua{sv}', 'InvalidArgument', /^name: /);
rootTest('name with a space', badArguments, ['a b', 0, {}], 'sua{sv}', 'InvalidArgument', /^name: /);
rootTest('name of 65 characters', badArguments, ['x'.repeat(65), 0, {}], 'sua{sv}', 'InvalidArgument', /^name: .*64/);
rootTest('size 65537', badArguments, ['big', 65537, {}], 'sua{sv}', 'InvalidArgument', /^size: /);
rootTest('unknown option key', badArguments, ['opt', 0, { Frobnicate: v('b', true) }], 'sua{sv}', 'InvalidArgument', /^options\.Frobnicate: unknown/);
// dbus-next decodes a{sv} into a plain object, where this key would set the prototype instead.
rootTest('an option key named __proto__', badArguments, ['proto', 0, JSON.parse('{"__proto__": {"$v": ["s", "x"]}}')], 'sua{sv}', 'InvalidArgument', /^options\.__proto__: unknown/);
rootTest('wrong signature', badArguments, ['sig', 0], 'su', 'org.freedesktop.DBus.Error.InvalidArgs', /sua\{sv\}/);

rootTest.serial('a name is unique per user among live namespaces, but not across users', async (t) => {
  // carol keeps "dup" alive by passing it to a sleeping child while asking again.
  const r = expectOk(
    t,
    await callAs(carol, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['dup', 0, {}], {
      then: `node ${JSON.stringify(path.resolve(__dirname, '../helpers/../clients/call.js'))} --address '${stack.address}' --member AllocateUserNamespace --signature 'sua{sv}' --body '["dup",0,{}]'`,
    }),
  );
  const second = JSON.parse(r.then!.stdout.trim().split('\n').pop()!) as CallResult;
  expectError(t, second, 'NameExists', /dup/);
  expectOk(t, await allocate(dave, 'dup'));
});

rootTest.serial('ListUserNamespaces shows a user only its own, root everything', async (t) => {
  const hold = `node ${JSON.stringify(path.resolve(__dirname, '../clients/call.js'))} --address '${stack.address}' --member ListUserNamespaces --signature 'a{sv}' --body '[{}]'`;
  const r = expectOk(t, await allocate(bob, 'listed', 0, { then: hold }));
  const listing = JSON.parse(r.then!.stdout.trim().split('\n').pop()!) as CallResult;
  const own = expectOk(t, listing).body[0] as Array<[string, number, number, number, unknown, unknown]>;
  t.true(own.some((e) => e[0] === 'listed' && e[1] === bob.uid && e[2] === r.body[1]));
  t.true(own.every((e) => e[1] === bob.uid));
  const rootView = expectOk(t, await callAs('root', stack.address, 'ListUserNamespaces', 'a{sv}', [{}]));
  t.true((rootView.body[0] as unknown[]).length >= 0);
});
