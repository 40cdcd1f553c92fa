import test from 'ava';
import fs from 'node:fs';
import { callBus, nameHasOwner } from '../../src/stack/bus-connection';
import { POLKIT_NAME } from '../../src/stack/polkitd';
import { startTestStack } from '../helpers/stack';
import { isAlive, processesMentioning } from '../helpers/processes';
import { SERVICE_NAME } from '../helpers/paths';
import { rootTest } from '../helpers/root';

rootTest('a full stack starts the daemon, restarts it, and stop() leaves nothing behind', async (t) => {
  const started = Date.now();
  const stack = await startTestStack({ config: '' });
  t.log(`bus + polkitd + nsmountd up in ${Date.now() - started} ms`);
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await stack.stop();
  });

  t.true(await nameHasOwner(stack.connection, SERVICE_NAME));
  t.true(await nameHasOwner(stack.connection, POLKIT_NAME));
  t.true(stack.daemon.fdCount() > 3);
  t.true(stack.daemon.logs.length > 0, 'the daemon logged nothing at debug level');
  const [ownerPid] = await callBus(stack.connection, 'GetConnectionUnixProcessID', 's', [SERVICE_NAME]);
  t.is(ownerPid, stack.daemon.pid);

  const first = stack.daemon.pid;
  await stack.daemon.restart();
  t.not(stack.daemon.pid, first);
  t.false(isAlive(first));
  t.true(await nameHasOwner(stack.connection, SERVICE_NAME));

  const pids = [stack.bus.pid, stack.polkit.pid, stack.daemon.pid];
  await stack.stop();
  stopped = true;
  t.deepEqual(pids.filter(isAlive), []);
  t.false(fs.existsSync(stack.baseDir));
  t.deepEqual(processesMentioning(stack.baseDir), []);
});

rootTest('stop(signal) reports how the daemon ended, and start() brings it back', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.stop());
  const code = await stack.daemon.stop('SIGKILL');
  t.is(code, null); // killed by the signal, no exit code
  t.false(await nameHasOwner(stack.connection, SERVICE_NAME));
  t.throws(() => stack.daemon.fdCount(), { message: /not running/ });
  await stack.daemon.start();
  t.true(await nameHasOwner(stack.connection, SERVICE_NAME));
});

rootTest('a daemon that cannot start rejects with its output', async (t) => {
  const stack = await startTestStack({ daemon: false, config: 'this is not toml = = =' });
  t.teardown(() => stack.stop());
  const err = await t.throwsAsync(stack.daemon.start());
  t.regex(err!.message, /nsmountd exited/);
});
