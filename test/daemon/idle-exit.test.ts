// The daemon leaves after an idle period and the bus starts it again on the
// next call, with everything it knew still in the state directory.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { holdNamespaces } from '../helpers/holder';
import { callAs } from '../helpers/call';
import { alice } from '../helpers/users';
import { NSMOUNTD_BIN } from '../helpers/paths';
import { nameHasOwner } from '../../src/stack/bus-connection';

let servicesDir: string;

test.before(async () => {
  if (rootSkipReason) return;
  // The activation file has to exist before the bus reads its service directories.
  const scratch = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), 'nsmountd-idle-'));
  fs.chmodSync(scratch, 0o755);
  servicesDir = path.join(scratch, 'services');
  fs.mkdirSync(servicesDir, { mode: 0o755 });
});
const stack = useTestStack(() => ({ config: '[daemon]\nidle_timeout_sec = 1\n', serviceDirs: [servicesDir] }));
test.after.always(async () => {
  if (servicesDir) fs.rmSync(path.dirname(servicesDir), { recursive: true, force: true });
});

async function waitUntil(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - started;
}

rootTest.serial('idle exit, then bus activation brings it back with its registry', async (t) => {
  // The launch helper clears the environment: everything goes on the Exec= line.
  fs.writeFileSync(
    path.join(servicesDir, 'org.nsmount.NsMount1.service'),
    [
      '[D-BUS Service]',
      'Name=org.nsmount.NsMount1',
      `Exec=${process.execPath} ${NSMOUNTD_BIN} --address ${stack.address.split(',')[0]} --state-dir ${stack.stateDir} --config ${stack.configPath}`,
      'User=root',
      '',
    ].join('\n'),
  );
  const held = await holdNamespaces(alice, stack.address, ['before-idle']);
  try {
    t.true(held.results[0].ok);
    const idleMs = await waitUntil('the daemon left the bus', async () => !(await nameHasOwner(stack.connection, 'org.nsmount.NsMount1')), 10000);
    t.true(idleMs >= 500, `left after ${idleMs} ms, sooner than its idle timeout`);
    t.true(stack.daemon.logs.some((l) => l.includes('"reason":"idle"')), 'the daemon said why it left');

    // Activation: the call itself starts the daemon.
    const r = await callAs(alice, stack.address, 'ListUserNamespaces', 'a{sv}', [{}]);
    if (!r.ok) return t.fail(`${r.name}: ${r.message}`);
    const entries = r.body[0] as Array<[string, number, number]>;
    t.true(entries.some((e) => e[0] === 'before-idle' && e[2] === held.results[0].base));
    // And it goes idle again by itself.
    await waitUntil('the activated daemon left again', async () => !(await nameHasOwner(stack.connection, 'org.nsmount.NsMount1')), 10000);
  } finally {
    await held.release();
  }
});
