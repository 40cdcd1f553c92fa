// The daemon under test as a child process: started, stopped and restarted
// by tests that check crash recovery, fd leaks and logging.
import fs from 'node:fs';
import type { MessageBus } from 'dbus-next';
import { spawnManaged, type ManagedChild } from '../../src/stack/child';
import { nameHasOwner, waitForName } from '../../src/stack/bus-connection';
import { NSMOUNTD_BIN, SERVICE_NAME } from './paths';
import { DAEMON_ENVIRONMENT, DAEMON_NODE_OPTIONS } from '../../src/daemon/node-options';

export interface DaemonHandle {
  /** pid of the running daemon (of the last one once stopped). */
  readonly pid: number;
  /** Starts the daemon and resolves once it owns its bus name. */
  start(): Promise<void>;
  /** Signals the daemon (SIGTERM by default), waits for it to exit and for its name to leave the bus; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  restart(): Promise<void>;
  /** Entries in /proc/PID/fd of the running daemon. */
  fdCount(): number;
  /** Every line the daemon printed, across restarts. */
  logs: string[];
}

export interface DaemonOptions {
  address: string;
  stateDir: string;
  configPath: string;
  /** Used to poll for the bus name. */
  bus: MessageBus;
  startTimeoutMs?: number;
  /** --log-level. Default debug: a failing test shows everything; the bench runs at the service's own default. */
  logLevel?: string;
  /** Extra node options before the script, e.g. --cpu-prof for the bench's --profile. */
  nodeArgs?: string[];
}

const MAX_LOG_LINES = 20000;
// Bounds for a daemon that hangs, not for a slow one: a start takes about
// a second here, but 14 s was seen at load 40, and a daemon that exits
// early ends the wait at once.
const START_TIMEOUT_MS = 120_000;
const NAME_GONE_TIMEOUT_MS = 30_000;

export function daemonHandle(opts: DaemonOptions): DaemonHandle {
  let child: ManagedChild | undefined;
  const logs: string[] = [];

  const waitNameGone = async () => {
    const deadline = Date.now() + NAME_GONE_TIMEOUT_MS;
    while (await nameHasOwner(opts.bus, SERVICE_NAME)) {
      if (Date.now() > deadline) throw new Error(`${SERVICE_NAME} still has an owner after the daemon exited`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  const handle: DaemonHandle = {
    get pid() {
      if (!child) throw new Error('the daemon was never started');
      return child.pid;
    },
    logs,
    async start() {
      if (child?.running()) throw new Error(`the daemon is already running (pid ${child.pid})`);
      const started = spawnManaged(
        process.execPath,
        [...DAEMON_NODE_OPTIONS, ...(opts.nodeArgs ?? []), NSMOUNTD_BIN, '--address', opts.address, '--state-dir', opts.stateDir, '--config', opts.configPath, '--log-level', opts.logLevel ?? 'debug'],
        {
          env: { ...process.env, ...DAEMON_ENVIRONMENT, DBUS_SYSTEM_BUS_ADDRESS: opts.address },
          onLine: (line) => {
            logs.push(line);
            if (logs.length > MAX_LOG_LINES) logs.shift();
          },
        },
      );
      child = started;
      try {
        await waitForName(opts.bus, SERVICE_NAME, {
          timeoutMs: opts.startTimeoutMs ?? START_TIMEOUT_MS,
          abort: () =>
            started.running() ? undefined : new Error(`nsmountd exited (code ${started.process.exitCode}) before owning ${SERVICE_NAME}:\n${logs.slice(-50).join('\n')}`),
        });
      } catch (err) {
        await started.stop({ signal: 'SIGKILL' });
        throw err;
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!child) return null;
      // A daemon stopped in a burst first answers every call in flight, which
      // may wait for polkit (128 at once, at tens of ms each on a loaded
      // machine); systemd gives it 90 s (TimeoutStopSec). Only a daemon that
      // never exits waits this out.
      const code = await child.stop({ signal, graceMs: 60000 });
      await waitNameGone();
      return code;
    },
    async restart() {
      await handle.stop();
      await handle.start();
    },
    fdCount() {
      if (!child?.running()) throw new Error('the daemon is not running');
      return fs.readdirSync(`/proc/${child.pid}/fd`).length;
    },
  };
  return handle;
}
