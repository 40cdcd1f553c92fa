import fs from 'node:fs';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { holdNamespaces } from '../helpers/holder';
import { callAs } from '../helpers/call';
import { runAsUser } from '../helpers/as-user';
import { alice, bob, carol, dave } from '../helpers/users';

const stack = useTestStack();

rootTest.serial('Introspect serves the contract file', async (t) => {
  const r = await callAs(alice, stack.address, 'Introspect', '', [], {});
  // The call client defaults to the Manager interface; ask the standard one.
  const intro = await runAsUser(alice, [
    'gdbus', 'introspect', '--address', stack.address, '--dest', 'org.nsmount.NsMount1', '--object-path', '/org/nsmount/NsMount1', '--xml',
  ]);
  t.is(intro.code, 0, intro.stderr);
  const contract = fs.readFileSync(path.resolve(__dirname, '../../../dbus/org.nsmount.NsMount1.Manager.xml'), 'utf8');
  for (const method of contract.matchAll(/<method name="([A-Za-z]+)"/g)) t.true(intro.stdout.includes(`<method name="${method[1]}">`), method[1]);
  t.true(intro.stdout.includes('org.freedesktop.DBus.Peer'));
  t.false(r.ok, 'Introspect is not a Manager method');
});

rootTest.serial('properties tell the version, features and the foreign range', async (t) => {
  const r = await runAsUser(alice, [
    'gdbus', 'call', '--address', stack.address, '--dest', 'org.nsmount.NsMount1', '--object-path', '/org/nsmount/NsMount1',
    '--method', 'org.freedesktop.DBus.Properties.GetAll', 'org.nsmount.NsMount1.Manager',
  ]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /'ForeignUidBase': <uint32 2147352576>/);
  t.regex(r.stdout, /'ForeignUidCount': <uint32 65536>/);
  t.regex(r.stdout, /'Features': <\[.*'user-namespaces'.*\]>/);
  t.regex(r.stdout, /'namespace-file-handles'/);
  t.regex(r.stdout, /'idmapped-mounts'/);
});

rootTest.serial('a restart keeps the registry', async (t) => {
  const held = await holdNamespaces(alice, stack.address, ['survivor']);
  try {
    t.true(held.results[0].ok);
    await stack.daemon.restart();
    const list = await callAs('root', stack.address, 'ListUserNamespaces', 'a{sv}', [{}]);
    t.true(list.ok);
    const entries = list.ok ? (list.body[0] as Array<[string, number, number]>) : [];
    t.true(entries.some((e) => e[0] === 'survivor' && e[1] === alice.uid && e[2] === held.results[0].base));
    // The live block is not handed out again after the restart.
    const other = await callAs(bob, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['after-restart', 0, {}]);
    t.true(other.ok);
    if (other.ok) t.not(other.body[1], held.results[0].base);
  } finally {
    await held.release();
  }
});

rootTest.serial('200 concurrent calls from several users leave the daemon with the fds it had', async (t) => {
  // Warm up lazily opened fds (polkit connection, NSS) before counting.
  await callAs(alice, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['warmup', 0, {}]);
  const before = stack.daemon.fdCount();
  const users = [alice, bob, carol, dave];
  const perClient = 25;
  const clients = Array.from({ length: 8 }, (_, i) => {
    const user = users[i % users.length];
    const names = Array.from({ length: perClient }, (_, k) => `burst-${i}-${k}`);
    return holdNamespaces(user, stack.address, names, { parallel: true });
  });
  const holders = await Promise.all(clients);
  const results = holders.flatMap((h) => h.results);
  t.is(results.length, 200);
  const failed = results.filter((r) => !r.ok);
  t.deepEqual(failed, []);
  const bases = results.map((r) => r.base);
  t.is(new Set(bases).size, 200, 'no block handed out twice');
  await Promise.all(holders.map((h) => h.release()));
  t.is(stack.daemon.fdCount(), before);
});

rootTest.serial('SIGTERM during a burst: every call gets an answer, the daemon exits 0, the registry stays consistent', async (t) => {
  const users = [alice, bob, carol, dave];
  const burst = users.map((user, i) =>
    holdNamespaces(user, stack.address, Array.from({ length: 100 }, (_, k) => `term-${i}-${k}`), { parallel: true }),
  );
  // Signal once the daemon is demonstrably in the middle of the burst.
  const callsSoFar = () => stack.daemon.logs.filter((l) => l.includes('"method":"AllocateUserNamespace"')).length;
  const logsBefore = callsSoFar();
  const deadline = Date.now() + 20000;
  while (callsSoFar() - logsBefore < 10 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
  const code = await stack.daemon.stop('SIGTERM');
  t.is(code, 0);
  const holders = await Promise.all(burst);
  try {
    const results = holders.flatMap((h) => h.results);
    t.is(results.length, 400, 'every call was answered');
    t.true(results.filter((x) => x.ok).length >= 10, 'the signal came in the middle of the burst');
    for (const r of results.filter((x) => !x.ok)) t.truthy(r.error, `failure without an error name: ${r.message}`);
    await stack.daemon.start();
    const list = await callAs('root', stack.address, 'ListUserNamespaces', 'a{sv}', [{}]);
    if (!list.ok) return t.fail(list.message);
    const entries = list.body[0] as Array<[string, number, number]>;
    const bases = entries.map((e) => e[2]);
    t.is(new Set(bases).size, bases.length, 'no block recorded twice');
    for (const r of results.filter((x) => x.ok)) {
      t.true(entries.some((e) => e[0] === r.name && e[2] === r.base), `${r.name} was handed out but is not in the registry`);
    }
  } finally {
    await Promise.all(holders.map((h) => h.release()));
  }
});
