// polkitd killed with SIGKILL in the middle of a stream of calls: from then
// on every unprivileged call is refused with NotAuthorized, promptly and
// without the daemon going down or recording anything for it; once polkitd
// is back, the same calls work again.
import { rootSerial } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs } from '../helpers/call';
import { holdNamespaces, type Holder } from '../helpers/holder';
import { alice } from '../helpers/users';
import { ERR, logEntries, readRegistry, waitFor } from './fixture';

const stack = useTestStack();

rootSerial('polkitd killed mid-stream: later calls are denied cleanly, and work again once it is back', async (t) => {
  const holders: Holder[] = [];
  try {
    const daemonPid = stack.daemon.pid;
    const logFrom = stack.daemon.logs.length;
    const allocations = () => logEntries(stack.daemon.logs, logFrom).filter((e) => e.msg === 'call' && e.method === 'AllocateUserNamespace').length;
    // One name after another on one connection, long enough to still be
    // running when polkitd dies (denials are quick, so the tail costs little).
    const names = Array.from({ length: 150 }, (_, i) => `stream-${i}`);
    const stream = holdNamespaces(alice, stack.address, names);
    await waitFor('the stream to get going', () => allocations() >= 5);
    process.kill(stack.polkit.pid, 'SIGKILL');
    const started = Date.now();
    holders.push(await stream);
    const results = holders[0].results;
    t.is(results.length, names.length, 'every call was answered');
    const firstDenied = results.findIndex((r) => !r.ok);
    t.log(`${firstDenied} calls granted before the kill, ${results.length - firstDenied} denied after it`);
    t.true(firstDenied >= 5, `the kill came mid-stream (first denial at ${firstDenied})`);
    t.true(results.slice(firstDenied).every((r) => !r.ok), 'nothing was granted once polkitd was gone');
    for (const r of results.filter((x) => !x.ok)) {
      t.is(r.error, `${ERR}NotAuthorized`, `${r.name}: ${r.message}`);
      t.regex(r.message ?? '', /polkit/, 'the refusal says why');
    }
    // A call waits for polkit's reply, so a hang would show here.
    t.true(Date.now() - started < 10000, 'the denials were prompt');

    // The registry holds exactly what was granted.
    const recorded = new Set(readRegistry(stack.stateDir).namespaces.filter((n) => n.ownerUid === alice.uid).map((n) => n.name));
    t.deepEqual(
      names.filter((n) => recorded.has(n)),
      results.filter((r) => r.ok).map((r) => r.name),
    );

    // While polkitd is away: still denied, the daemon is the same process,
    // and root (which never asks polkit) is unaffected.
    const whileGone = await callAs(alice, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['while-gone', 0, {}]);
    t.like(whileGone, { ok: false, name: `${ERR}NotAuthorized` });
    t.is(stack.daemon.pid, daemonPid);
    const asRoot = await callAs('root', stack.address, 'ListUserNamespaces', 'a{sv}', [{}]);
    t.true(asRoot.ok);
    const denials = logEntries(stack.daemon.logs, logFrom).filter((e) => e.msg === 'call' && e.outcome === `${ERR}NotAuthorized`);
    t.true(denials.length > 0 && denials.every((e) => e.level === 30), 'denials are logged as ordinary calls, not errors');

    await stack.polkit.restart();
    holders.push(await holdNamespaces(alice, stack.address, ['back-1', 'back-2', 'back-3']));
    t.deepEqual(
      holders[1].results.map((r) => [r.name, r.ok]),
      [['back-1', true], ['back-2', true], ['back-3', true]],
    );
    t.is(stack.daemon.pid, daemonPid, 'the daemon never restarted');
  } finally {
    await Promise.all(holders.map((h) => h.release()));
  }
});
