// nsmountd: wires configuration, the registry, the kernel probes, polkit and
// the bus together, and owns the process lifecycle (signals, idle exit,
// losing the bus).
import { parseDaemonArgs, USAGE, UsageError, type DaemonArgs } from './args';
import { packageVersion, machineId } from './version';
import { chooseBus } from './choose-bus';
import { requestBusName, releaseBusName } from './bus-name';
import { startRecords, startReclaimSweep } from './records';
import { detectFeatures } from './features';
import { managerProperties } from './properties';
import { buildMethods } from './methods';
import { OffThread } from '../native/off-thread';
import { sizeThreadPool } from '../native/threadpool';
import { createLogger } from '../log';
import { connectBus, FdPassingUnavailable, isConnectionOpen, type MessageBus } from '../bus/connection';
import { CallerDirectory } from '../bus/caller';
import { followNameOwners } from '../bus/name-owners';
import { Dispatcher } from '../bus/dispatcher';
import { collectWhenIdle } from './idle-collect';
import { compactingGc } from './compacting-gc';
import { trimCHeap } from '../native/heap';
import { changeSignals } from '../bus/change-signals';
import type { ChangeListener } from '../events/changes';
import { Introspection, BUS_NAME } from '../bus/introspection';
import { PolkitAuthority } from '../polkit/authority';
import { RegistryStore } from '../registry/store';
import { ensurePrivateStateDirectory } from '../registry/state-dir';
import { prepareMountLocking } from '../mounts/lock';
import { containerCallerRefusal } from '../userns/container-caller';
import { nsswitchWarningOfFile } from '../userns/nsswitch';
import { loadConfig, ConfigError, type Config } from '../config';
import { SystemError } from '../errors';
import { lockStateDirectory, AlreadyRunning, type InstanceLock } from './instance-lock';

function fail(message: string, code = 1): never {
  process.stderr.write(`nsmountd: ${message}\n`);
  process.exit(code);
}

export async function runDaemon(argv: string[]): Promise<void> {
  // Before anything starts libuv's pool, which reads its size once.
  sizeThreadPool();
  let args: DaemonArgs;
  try {
    args = parseDaemonArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message}\n\n${USAGE}`, 2);
    throw err;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (args.version) {
    process.stdout.write(`nsmountd ${packageVersion()}\n`);
    return;
  }
  if (process.getuid?.() !== 0) {
    fail(
      'must run as root: it creates user namespaces owned by other users, writes their uid/gid maps, ' +
        'changes ownership to the foreign uid range and makes mounts, none of which an ordinary user may do',
    );
  }

  let config: Config;
  try {
    config = loadConfig({ file: args.config });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const stateDir = args.stateDir ?? config.daemon.stateDir;
  const log = createLogger({ level: args.logLevel ?? config.daemon.logLevel });

  // A bug must not take the service down for everyone: log it and go on.
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled rejection'));

  try {
    ensurePrivateStateDirectory(stateDir);
  } catch (err) {
    fail(`refusing the state directory: ${(err as Error).message}`);
  }
  // Before anything else touches the state directory or the embedded bus's runtime directory.
  let instance: InstanceLock;
  try {
    instance = lockStateDirectory(stateDir);
  } catch (err) {
    if (err instanceof AlreadyRunning) fail(err.message);
    fail(`cannot lock the state directory ${stateDir}: ${(err as Error).message}`);
  }

  const store = new RegistryStore(stateDir);
  try {
    store.open();
  } catch (err) {
    fail(`cannot open the registry in ${stateDir}: ${(err as Error).message}`);
  }
  const features = detectFeatures({ scratchDir: stateDir });
  log.info({ features }, 'kernel features');
  const warnings = [nsswitchWarningOfFile({ first: config.pool.first, last: config.pool.last })].filter((w): w is string => !!w);
  for (const warning of warnings) log.warn(warning);
  try {
    prepareMountLocking();
  } catch (err) {
    // Mounts for callers other than root cannot be handed out until this
    // works (each such call tries again and fails with the reason); the
    // rest of the service can.
    log.error({ err: err instanceof SystemError ? err.message : err }, 'cannot prepare mount flag locking');
  }
  // Changes become bus signals once there is a bus; those of start-up reach nobody anyway.
  let announce: ChangeListener = () => {};
  const records = startRecords({ store, config, log, changes: (event) => announce(event) });
  const { allocator, attachments } = records;

  const { address, embedded } = await chooseBus(args, log, stateDir);
  let bus: MessageBus;
  try {
    bus = await connectBus({ address });
  } catch (err) {
    await embedded?.stop();
    if (err instanceof FdPassingUnavailable) fail(err.message);
    fail(`cannot connect to the bus at ${address}: ${(err as Error).message}`);
  }

  const pool = { first: config.pool.first, last: config.pool.last };
  const callers = new CallerDirectory(bus, { refuseUid: (uid) => containerCallerRefusal(uid, pool) });
  await followNameOwners(bus, callers);

  const offThread = new OffThread({ perUid: config.daemon.ioCallsPerUid, timeoutMs: config.daemon.ioTimeoutSec * 1000 });
  const dispatcher = new Dispatcher({
    bus,
    methods: buildMethods({ allocator, attachments, config, log, offThread }),
    introspection: Introspection.fromContractFile(),
    properties: managerProperties({ version: packageVersion(), features, warnings }),
    authority: new PolkitAuthority(bus),
    callers,
    log,
    machineId,
    callsPerUid: config.daemon.callsPerUid,
    offThread,
    guardStep: (step) =>
      store.whenFree(step, {
        timeoutMs: config.daemon.registryLockTimeoutSec * 1000,
        onWait: () => log.info({ stateDir }, 'waiting for the registry lock, held by another process'),
      }),
  });
  dispatcher.attach();
  const exposedGc = (globalThis as { gc?: () => void }).gc;
  collectWhenIdle({
    activity: () => ({ lastMs: dispatcher.lastActivity, inFlight: dispatcher.callsInFlight }),
    gc: exposedGc && compactingGc(exposedGc),
    trimCHeap,
  });
  announce = changeSignals(bus, log);

  const name = await requestBusName(bus);
  if (!name.owned) {
    bus.disconnect();
    await embedded?.stop();
    fail(`already running (pid ${name.ownerPid ?? 'unknown'}): ${BUS_NAME} is already owned on ${address}`);
  }
  log.info({ address, stateDir, version: packageVersion() }, 'nsmountd ready');

  const reclaimTimer = startReclaimSweep(records, { intervalSec: config.pool.reclaimIntervalSec, log });

  let stopping = false;
  const shutdown = async (reason: string, code: number, busGone = false) => {
    if (stopping) return;
    stopping = true;
    // Should anything below never settle, the loop runs dry and Node exits
    // by itself: with this status, not 0, or a service manager with
    // Restart=on-failure would take a lost bus for a clean stop.
    process.exitCode = code;
    log.info({ reason, inFlight: dispatcher.callsInFlight }, 'shutting down');
    // Without a bus, calls in flight wait for replies (caller lookup,
    // polkit) that never come, and ReleaseName would never be answered:
    // dbus-next does not fail calls pending on a closed connection. Those
    // calls have not acted yet, and our name went with the connection.
    if (!busGone) {
      await dispatcher.drain();
      try {
        await releaseBusName(bus);
      } catch (err) {
        // The bus may already be gone.
        log.debug({ err }, 'could not release the bus name');
      }
    }
    clearInterval(reclaimTimer);
    bus.disconnect();
    store.close();
    await embedded?.stop();
    instance.release();
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  bus.on('error', (err: Error) => {
    if (stopping) return;
    // dbus-next also emits 'error' for one message it could not turn into
    // a Message (connection.js); a peer's message must not stop the daemon.
    if (isConnectionOpen(bus)) {
      log.error({ err }, 'dbus-next could not handle a message; the bus connection is fine, going on');
      return;
    }
    log.error({ err: err.message }, 'lost the bus connection');
    void shutdown('bus connection lost', 1, true);
  });
  const connectionEvents = (bus as unknown as { _connection: NodeJS.EventEmitter })._connection;
  connectionEvents.on('end', () => {
    if (stopping) return;
    log.error('the bus closed the connection');
    void shutdown('bus connection closed', 1, true);
  });

  if (config.daemon.idleTimeoutSec > 0) {
    const idleMs = config.daemon.idleTimeoutSec * 1000;
    const idleTimer = setInterval(() => {
      if (dispatcher.callsInFlight === 0 && Date.now() - dispatcher.lastActivity >= idleMs) {
        void shutdown('idle', 0);
      }
    }, Math.min(idleMs, 1000));
    idleTimer.unref();
  }
}
