// One complete, isolated nsmountd environment: a private system bus, a
// polkitd with its own rules, and the daemon itself. Test files take one
// through useTestStack (test/helpers/use-test-stack.ts); startTestStack is
// for tests and the bench, which start (and stop) stacks of their own. This
// module must not load ava: the bench, run outside ava, starts stacks here.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MessageBus } from 'dbus-next';
import { startPrivateSystemBus, type PrivateBus } from '../../src/stack/private-bus';
import { startPolkitd, type Polkitd } from '../../src/stack/polkitd';
import { connectBus, safeDisconnect } from '../../src/stack/bus-connection';
import { daemonHandle, type DaemonHandle } from './daemon';
import { removeTree } from './cleanup';
import { BUS_POLICY, POLKIT_ACTIONS } from './paths';

export type { DaemonHandle } from './daemon';

export interface TestStackOptions {
  /** TOML text for the daemon's --config file. Default: empty. */
  config?: string;
  /** polkit rules (JavaScript) in force from the start. Default: none, so the actions' defaults decide. */
  rules?: string;
  /** Start nsmountd. Default true. */
  daemon?: boolean;
  /** Bus policy files. Default: dbus/org.nsmount.NsMount1.conf. */
  policyFiles?: string[];
  /** polkit .policy files. Default: polkit/org.nsmount.policy. */
  actionFiles?: string[];
  /** Directories of bus-activatable .service files. */
  serviceDirs?: string[];
  /** nsmountd's --log-level. Default debug. */
  logLevel?: string;
  /** Extra node options for nsmountd (e.g. --cpu-prof). */
  daemonNodeArgs?: string[];
}

export interface TestPolkitd extends Polkitd {
  /** Stops polkitd and starts a new one with the current rules. */
  restart(): Promise<void>;
}

export interface TestStack {
  address: string;
  /** The daemon's --state-dir. */
  stateDir: string;
  /** Holds the bus socket and polkit's dirs; world-reachable. */
  runtimeDir: string;
  /** The --config file. */
  configPath: string;
  /** Everything of this stack lives below here. */
  baseDir: string;
  bus: PrivateBus;
  polkit: TestPolkitd;
  /** Present even with daemon: false, so a test can start it later. */
  daemon: DaemonHandle;
  /** A root connection to the stack's bus (fd passing negotiated), shared by helpers. */
  connection: MessageBus;
  stop(): Promise<void>;
}

export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  // os.tmpdir() honours TMPDIR; everyone must be able to reach the socket.
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-test-'));
  fs.chmodSync(baseDir, 0o755);
  const runtimeDir = path.join(baseDir, 'run');
  const stateDir = path.join(baseDir, 'state');
  const configPath = path.join(baseDir, 'nsmountd.toml');
  fs.mkdirSync(runtimeDir, { mode: 0o755 });
  fs.mkdirSync(stateDir, { mode: 0o700 });
  fs.writeFileSync(configPath, opts.config ?? '', { mode: 0o644 });

  const cleanups: Array<() => Promise<void> | void> = [() => removeTree(baseDir)];
  const stopAll = async () => {
    const errors: unknown[] = [];
    // Reverse start order: daemon, polkitd, bus, temp dir.
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length) throw errors[0];
  };

  try {
    const bus = await startPrivateSystemBus({
      runtimeDir,
      policyFiles: opts.policyFiles ?? [BUS_POLICY],
      serviceDirs: opts.serviceDirs,
    });
    cleanups.push(() => bus.stop());

    const actionFiles = opts.actionFiles ?? [POLKIT_ACTIONS];
    let rules = opts.rules ?? '';
    let current = await startPolkitd({ busAddress: bus.address, runtimeDir, actionFiles, rules });
    cleanups.push(() => current.stop());
    const polkit: TestPolkitd = {
      get pid() {
        return current.pid;
      },
      get rulesDir() {
        return current.rulesDir;
      },
      get logs() {
        return current.logs;
      },
      async setRules(js: string) {
        rules = js;
        await current.setRules(js);
      },
      async stop() {
        await current.stop();
      },
      async restart() {
        await current.stop();
        current = await startPolkitd({ busAddress: bus.address, runtimeDir, actionFiles, rules, rulesDir: current.rulesDir });
      },
    };

    const connection = await connectBus(bus.address);
    connection.on('error', () => {});
    cleanups.push(() => safeDisconnect(connection));

    const daemon = daemonHandle({ address: bus.address, stateDir, configPath, bus: connection, logLevel: opts.logLevel, nodeArgs: opts.daemonNodeArgs });
    cleanups.push(async () => {
      await daemon.stop();
    });
    if (opts.daemon ?? true) await daemon.start();

    return { address: bus.address, stateDir, runtimeDir, configPath, baseDir, bus, polkit, daemon, connection, stop: stopAll };
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
}
