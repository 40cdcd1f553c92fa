// The bus daemon goes away under nsmountd. Without its bus a system service
// can do nothing, so it must exit by itself, with a non-zero status (so a
// service manager restarts it), a clear log line and no stack trace; and a
// new daemon on a new bus, with the same state directory, must know every
// namespace that is still alive.
//
// Each case builds its own bus, polkitd and daemon: the bus dies in it. The
// first daemon is spawned directly rather than through the stack's handle,
// because the test needs its exit status and the handle's stop() talks to
// the (dead) bus.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { MessageBus } from 'dbus-next';
import { rootTest } from '../helpers/root';
import { startTestStack, type TestStack } from '../helpers/stack';
import { daemonHandle } from '../helpers/daemon';
import { callAs } from '../helpers/call';
import { holdNamespaces } from '../helpers/holder';
import { alice, bob } from '../helpers/users';
import { BUS_POLICY, NSMOUNTD_BIN, POLKIT_ACTIONS, SERVICE_NAME } from '../helpers/paths';
import { spawnManaged, type ManagedChild } from '../../src/stack/child';
import { startPrivateSystemBus, type PrivateBus } from '../../src/stack/private-bus';
import { startPolkitd, type Polkitd } from '../../src/stack/polkitd';
import { connectBus, safeDisconnect, waitForName } from '../../src/stack/bus-connection';
import { namespaceId } from '../../src/native/nsfs';
import { closeQuietly } from '../../src/native/fd';
import { holderPids, logEntries, pinNamespacesOf, readRegistry, registryFiles } from './fixture';

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    }),
  ]);
}

const busGoesAway = test.macro({
  async exec(t, signal: NodeJS.Signals) {
    const cleanups: Array<() => unknown> = [];
    try {
      const stack: TestStack = await startTestStack({ daemon: false });
      cleanups.push(() => stack.stop());
      const first: ManagedChild = spawnManaged(
        process.execPath,
        [NSMOUNTD_BIN, '--address', stack.address, '--state-dir', stack.stateDir, '--config', stack.configPath],
        { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: stack.address } },
      );
      cleanups.push(() => first.stop({ signal: 'SIGKILL' }));
      await waitForName(stack.connection, SERVICE_NAME, {
        timeoutMs: 15000,
        abort: () => (first.running() ? undefined : new Error(`nsmountd exited:\n${first.lines.join('\n')}`)),
      });

      // Two namespaces stay alive through it all (the test holds them, not
      // a client whose bus is about to vanish); a third dies before.
      const held = await holdNamespaces(alice, stack.address, ['kept-1', 'kept-2', 'dropped']);
      t.true(held.results.every((r) => r.ok), JSON.stringify(held.results));
      // Other test files may run holders for alice too: pin by namespace id.
      const kept = readRegistry(stack.stateDir).namespaces.filter((n) => n.ownerUid === alice.uid && n.name.startsWith('kept-'));
      t.is(kept.length, 2);
      const keptIds = new Set(kept.map((n) => n.namespaceId));
      const pinned: number[] = [];
      for (const fd of holderPids(alice.uid).flatMap(pinNamespacesOf)) {
        if (keptIds.has(namespaceId(fd).toString())) pinned.push(fd);
        else closeQuietly(fd);
      }
      cleanups.push(() => pinned.forEach((fd) => closeQuietly(fd)));
      t.is(pinned.length, 2);
      await held.release();
      const registryBefore = registryFiles(stack.stateDir);

      // Only nsmountd should see its bus die: usocket closes a connection
      // that fails by error and drops its wrapper before libuv has finished
      // closing it, which now and then aborts the process (libuv assertion
      // in uv__finish_close) once GC frees the wrapper. Close this worker's
      // connections to that bus cleanly first.
      await stack.polkit.stop();
      safeDisconnect(stack.connection);
      process.kill(stack.bus.pid, signal);
      const code = await within(first.exited, 10000, 'nsmountd did not exit after losing its bus');
      t.is(code, 1, `a non-zero status, so the service manager restarts it; output:\n${first.lines.slice(-8).join('\n')}`);
      const entries = logEntries(first.lines);
      const lost = entries.find((e) => e.level === 50 && /bus (connection|closed)/.test(String(e.msg)));
      t.truthy(lost, `no error line about the bus:\n${first.lines.join('\n')}`);
      t.like(entries.find((e) => e.msg === 'shutting down'), { reason: lost?.msg === 'lost the bus connection' ? 'bus connection lost' : 'bus connection closed' });
      t.false(
        first.lines.some((l) => /^\s+at /.test(l) || /"stack":/.test(l) || /\\n\s+at /.test(l)),
        `a stack trace in the output:\n${first.lines.join('\n')}`,
      );
      t.deepEqual(registryFiles(stack.stateDir), registryBefore, 'exiting wrote nothing');

      // The service manager's part: a new bus (with its polkitd) and a new
      // daemon on the same state directory.
      const runtime2 = path.join(stack.baseDir, 'run2');
      fs.mkdirSync(runtime2, { mode: 0o755 });
      const bus2: PrivateBus = await startPrivateSystemBus({ runtimeDir: runtime2, policyFiles: [BUS_POLICY] });
      cleanups.push(() => bus2.stop());
      const polkit2: Polkitd = await startPolkitd({ busAddress: bus2.address, runtimeDir: runtime2, actionFiles: [POLKIT_ACTIONS] });
      cleanups.push(() => polkit2.stop());
      const connection2: MessageBus = await connectBus(bus2.address);
      connection2.on('error', () => {});
      cleanups.push(() => safeDisconnect(connection2));
      const second = daemonHandle({ address: bus2.address, stateDir: stack.stateDir, configPath: stack.configPath, bus: connection2 });
      cleanups.push(() => second.stop());
      await second.start();

      const list = await callAs('root', bus2.address, 'ListUserNamespaces', 'a{sv}', [{}]);
      if (!list.ok) return t.fail(list.message);
      const listed = (list.body[0] as Array<[string, number, number]>).map(([name, uid, base]) => ({ name, uid, base }));
      t.deepEqual(
        listed.filter((n) => n.uid === alice.uid).sort((a, b) => a.name.localeCompare(b.name)),
        kept.map((n) => ({ name: n.name, uid: alice.uid, base: n.base })).sort((a, b) => a.name.localeCompare(b.name)),
        'the live namespaces are known; the dead one was reclaimed',
      );
      const fresh = await callAs(bob, bus2.address, 'AllocateUserNamespace', 'sua{sv}', ['after-bus-loss', 0, {}]);
      if (!fresh.ok) return t.fail(fresh.message);
      t.false(kept.some((n) => n.base === fresh.body[1]), 'a live block is not handed out again');
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup();
    }
  },
  title: (_provided, signal: NodeJS.Signals) => `dbus-daemon ends by ${signal}: nsmountd exits 1 with one clear line, and a new daemon knows the live namespaces`,
});

rootTest(busGoesAway, 'SIGTERM');
rootTest(busGoesAway, 'SIGKILL');
