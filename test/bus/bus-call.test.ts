// dbus-daemon refuses a connection's method call once that connection
// already waits for max_replies_per_connection replies (128 on the system
// bus). Two users with 100 calls each waiting for polkit would push the
// daemon's checks past it, and the checks past it would be refused:
// callers turned away only because others were busy. The daemon's own
// calls to the bus wait their turn below the limit instead.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { runAsUser } from '../helpers/as-user';
import { PACKAGE_ROOT } from '../helpers/paths';
import { alice, bob } from '../helpers/users';
import { execFileSync } from 'node:child_process';

const CLIENT = path.join(PACKAGE_ROOT, 'dist/test/clients/parallel-calls.js');
const CALLS_EACH = 100;
let gateDir: string;

const stack = useTestStack();
test.before(async () => {
  if (rootSkipReason) return;
  gateDir = path.join(stack.baseDir, 'polkit-gates');
  fs.mkdirSync(gateDir, { mode: 0o755 });
});

function polkitIsHolding(gate: string): boolean {
  try {
    execFileSync('pgrep', ['-f', gate], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

rootTest(`${CALLS_EACH} calls each from two users waiting on polkit at once are all answered by polkit, none refused by the bus`, async (t) => {
  const gate = path.join(gateDir, 'open');
  t.teardown(() => fs.writeFileSync(gate, ''));
  // Every check waits until the test opens the gate, so all of both users' calls are in flight together.
  await stack.polkit.setRules(`polkit.addRule(function (action, subject) {
    if (action.id == "org.nsmount.allocate-user-namespace") {
      polkit.spawn(["/bin/sh", "-c", "while [ ! -e ${gate} ]; do sleep 0.05; done"]);
      return polkit.Result.YES;
    }
  });`);
  const burst = (user: typeof alice) =>
    runAsUser(user, [
      process.execPath, CLIENT, '--address', stack.address, '--member', 'ListUserNamespaces', '--signature', 'a{sv}', '--body', '[{}]',
      '--count', String(CALLS_EACH),
    ], { timeoutMs: 120000 });
  const runs = [burst(alice), burst(bob)];
  const deadline = Date.now() + 30000;
  while (!polkitIsHolding(gate) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.true(polkitIsHolding(gate), 'polkit never started holding a check');
  // Give both clients' calls time to reach the daemon; the outcome does not depend on it, only whether the old code shows its failure.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  fs.writeFileSync(gate, '');
  const results = await Promise.all(runs);
  for (const [i, result] of results.entries()) {
    const replies = result.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { index: number; ok: boolean; name?: string });
    t.is(replies.length, CALLS_EACH, `${i === 0 ? 'alice' : 'bob'}: ${result.stderr}`);
    t.deepEqual(replies.filter((r) => !r.ok), [], `${i === 0 ? 'alice' : 'bob'}'s calls refused`);
  }
});
