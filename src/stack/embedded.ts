// The daemon's embedded mode: on a machine without a system bus (containers,
// CI, this project's own tests) nsmountd can bring up the bus and polkitd it
// needs. Same code as the test stack, so what the tests prove holds here.
import type { Logger } from 'pino';
import { connectBus, safeDisconnect } from './bus-connection';
import { startPrivateSystemBus, type PrivateBus } from './private-bus';
import { startPolkitd, type Polkitd } from './polkitd';
import { resolveBusAddress } from '../bus/address';

export interface EmbeddedStackOptions {
  /** Holds the bus socket and polkit's dirs; must be reachable (o+x) by messagebus, polkitd and clients. */
  runtimeDir: string;
  /** Bus policy files, e.g. dbus/org.nsmount.NsMount1.conf. */
  policyFiles: string[];
  /** polkit .policy files, e.g. polkit/org.nsmount.policy. */
  actionFiles: string[];
  /** Initial polkit rules (JavaScript). */
  rules?: string;
  /** polkitd reads the host's rules dirs, as an installed one would (the daemon's embedded mode). */
  hostRules?: boolean;
  log?: Logger;
}

export interface EmbeddedStack {
  address: string;
  bus: PrivateBus;
  polkit: Polkitd;
  stop(): Promise<void>;
}

export async function startEmbeddedStack(opts: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const busLog = opts.log?.child({ component: 'dbus-daemon' });
  const polkitLog = opts.log?.child({ component: 'polkitd' });
  const bus = await startPrivateSystemBus({
    runtimeDir: opts.runtimeDir,
    policyFiles: opts.policyFiles,
    onLog: busLog && ((line) => busLog.debug(line)),
  });
  let polkit: Polkitd;
  try {
    polkit = await startPolkitd({
      busAddress: bus.address,
      runtimeDir: opts.runtimeDir,
      actionFiles: opts.actionFiles,
      rules: opts.rules,
      hostRules: opts.hostRules,
      onLog: polkitLog && ((line) => polkitLog.debug(line)),
    });
  } catch (err) {
    await bus.stop();
    throw err;
  }
  opts.log?.info({ address: bus.address, busPid: bus.pid, polkitdPid: polkit.pid }, 'embedded system bus and polkitd started');
  return {
    address: bus.address,
    bus,
    polkit,
    async stop() {
      // polkitd first: it would otherwise log the bus going away.
      await polkit.stop();
      await bus.stop();
    },
  };
}

/** Whether a bus answers at address (default: $DBUS_SYSTEM_BUS_ADDRESS, then the standard socket). */
export async function systemBusReachable(address?: string, opts: { timeoutMs?: number } = {}): Promise<boolean> {
  const target = resolveBusAddress(address);
  try {
    const bus = await connectBus(target, { requireUnixFd: false, timeoutMs: opts.timeoutMs ?? 2000 });
    safeDisconnect(bus);
    return true;
  } catch {
    return false;
  }
}
