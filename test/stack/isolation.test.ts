import test from 'ava';
import path from 'node:path';
import { startTestStack, type TestStack } from '../helpers/stack';
import { checkAuthorization, idleProcessAs } from '../helpers/polkit';
import { rootSkipReason, rootTest } from '../helpers/root';
import { FIXTURES } from '../helpers/paths';
import { bob } from '../helpers/users';

const ACTION = 'org.nsmount.stacktest.granted';
const rule = (result: 'YES' | 'NO') => `polkit.addRule(function (action, subject) {
  if (action.id == "${ACTION}" && subject.user == "nsmtest-bob") return polkit.Result.${result};
});`;

let stacks: TestStack[] = [];
let bobPid: number;

test.before(async () => {
  if (rootSkipReason) return;
  const actionFiles = [path.join(FIXTURES, 'org.nsmount.stacktest.policy')];
  stacks = await Promise.all([
    startTestStack({ daemon: false, actionFiles, rules: rule('NO') }),
    startTestStack({ daemon: false, actionFiles, rules: rule('YES') }),
  ]);
  bobPid = (await idleProcessAs(bob)).pid;
});

test.after.always(async () => {
  if (bobPid) process.kill(bobPid, 'SIGKILL');
  await Promise.all(stacks.map((s) => s.stop()));
});

rootTest('two stacks started in parallel have separate buses, polkitds and rules', async (t) => {
  const [a, b] = stacks;
  t.not(a.address, b.address);
  t.not(a.polkit.pid, b.polkit.pid);
  t.not(a.polkit.rulesDir, b.polkit.rulesDir);
  t.false((await checkAuthorization(a.connection, bobPid, ACTION)).isAuthorized);
  t.true((await checkAuthorization(b.connection, bobPid, ACTION)).isAuthorized);

  await b.polkit.setRules(rule('NO'));
  await a.polkit.setRules(rule('YES'));
  t.true((await checkAuthorization(a.connection, bobPid, ACTION)).isAuthorized);
  t.false((await checkAuthorization(b.connection, bobPid, ACTION)).isAuthorized);
});
