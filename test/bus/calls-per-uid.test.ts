// One user's calls in flight are bounded ([daemon] calls_per_uid): past the
// limit a call is QuotaExceeded at once, and the calls in flight go on. The
// polkit rule holds alice's calls until the client, having seen its first
// reply, creates the gate file: so the first reply can only be a call the
// daemon refused without asking polkit.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { runAsUser } from '../helpers/as-user';
import { callAs } from '../helpers/call';
import { PACKAGE_ROOT } from '../helpers/paths';
import { alice, bob } from '../helpers/users';

const CLIENT = path.join(PACKAGE_ROOT, 'dist/test/clients/parallel-calls.js');
let gateDir: string;

const stack = useTestStack({ config: '[daemon]\ncalls_per_uid = 2\n' });
test.before(async () => {
  if (rootSkipReason) return;
  gateDir = path.join(stack.baseDir, 'gates');
  fs.mkdirSync(gateDir, { mode: 0o755 });
  fs.chownSync(gateDir, alice.uid, alice.gid);
});

rootTest('a uid past calls_per_uid gets QuotaExceeded at once, and its calls in flight finish', async (t) => {
  const gate = path.join(gateDir, 'open');
  await stack.polkit.setRules(`polkit.addRule(function (action, subject) {
    if (action.id == "org.nsmount.allocate-user-namespace" && subject.user == "${alice.name}") {
      polkit.spawn(["/bin/sh", "-c", "while [ ! -e ${gate} ]; do sleep 0.05; done"]);
      return polkit.Result.YES;
    }
  });`);
  const result = await runAsUser(alice, [
    process.execPath, CLIENT, '--address', stack.address, '--member', 'ListUserNamespaces', '--signature', 'a{sv}', '--body', '[{}]',
    '--count', '3', '--gate', gate,
  ]);
  const replies = result.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { index: number; ok: boolean; name?: string });
  // Which of the three is the one too many depends on the order the daemon
  // gets to them after each one's own credentials lookup, not on the limit.
  t.like(replies[0], { ok: false, name: 'org.nsmount.NsMount1.Error.QuotaExceeded' }, result.stdout + result.stderr);
  t.deepEqual(replies.map((r) => r.index).sort(), [0, 1, 2]);
  t.deepEqual(replies.slice(1).map((r) => r.ok), [true, true]);
  // The count went back down, and other users never counted against alice.
  t.true((await callAs(alice, stack.address, 'ListUserNamespaces', 'a{sv}', [{}])).ok);
  t.true((await callAs(bob, stack.address, 'ListUserNamespaces', 'a{sv}', [{}])).ok);
});
