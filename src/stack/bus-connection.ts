// Helpers for the stack on top of the one connector (src/bus/connection.ts):
// it refuses connections that cannot pass fds unless told otherwise, and
// attributes fds per message, which stock dbus-next gets wrong.
import dbus from 'dbus-next';
import { connectBus as connect, safeDisconnect, supportsUnixFd } from '../bus/connection';
import { callBus as call, DBUS_DAEMON } from '../bus/bus-call';

export { safeDisconnect, supportsUnixFd };

export interface ConnectOptions {
  /** Refuse the connection unless UNIX fd passing was negotiated. Default true. */
  requireUnixFd?: boolean;
  timeoutMs?: number;
}

export function connectBus(address: string, opts: ConnectOptions = {}): Promise<dbus.MessageBus> {
  return connect({ address, requireUnixFd: opts.requireUnixFd, timeoutMs: opts.timeoutMs ?? 5000 });
}

/** A call to the bus daemon itself. */
export function callBus(bus: dbus.MessageBus, member: string, signature: string, body: unknown[]): Promise<unknown[]> {
  return call(bus, { ...DBUS_DAEMON, member, signature, body });
}

export async function nameHasOwner(bus: dbus.MessageBus, name: string): Promise<boolean> {
  const [owned] = await callBus(bus, 'NameHasOwner', 's', [name]);
  return owned === true;
}

export interface WaitForNameOptions {
  timeoutMs?: number;
  /** Polled between attempts; a rejection (e.g. the owner-to-be exited) aborts the wait. */
  abort?: () => Error | undefined;
}

/** Polls NameHasOwner: simpler than NameOwnerChanged matching, and the wait is short. */
export async function waitForName(bus: dbus.MessageBus, name: string, opts: WaitForNameOptions = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10000);
  let delay = 5;
  for (;;) {
    if (await nameHasOwner(bus, name)) return;
    const aborted = opts.abort?.();
    if (aborted) throw aborted;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${name} to appear on the bus`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}
