// Connecting dbus-next to an explicit address. systemBus() ignores custom
// addresses and silently loses fd support when usocket is missing, so
// everything in the stack goes through here. Connections that pass fds use
// the daemon's own connector (src/bus/connection.ts): stock dbus-next hands
// all queued fds to the first message parsed, and a second message then
// crashes the reader.
import dbus from 'dbus-next';
import { connectBus as connectFdBus } from '../bus/connection';

export interface ConnectOptions {
  /**
   * Refuse the connection unless UNIX fd passing was negotiated. Default
   * true. Received fds are then the handler's to close: see messageFds()
   * in src/bus/connection.ts.
   */
  requireUnixFd?: boolean;
  timeoutMs?: number;
}

export function connectBus(address: string, opts: ConnectOptions = {}): Promise<dbus.MessageBus> {
  const requireUnixFd = opts.requireUnixFd ?? true;
  const timeoutMs = opts.timeoutMs ?? 5000;
  if (requireUnixFd) return connectFdBus({ address, timeoutMs });
  return new Promise((resolve, reject) => {
    let bus: dbus.MessageBus;
    try {
      // The typings lack negotiateUnixFd although connection.js honours it.
      bus = dbus.sessionBus({ busAddress: address, negotiateUnixFd: true } as dbus.SessionBusOptions);
    } catch (err) {
      reject(err);
      return;
    }
    const timer = setTimeout(() => fail(new Error(`timed out connecting to ${address}`)), timeoutMs);
    const fail = (err: unknown) => {
      clearTimeout(timer);
      bus.removeListener('connect', onConnect);
      // Keep a listener: dbus-next emits further errors on a dead connection.
      bus.on('error', () => {});
      safeDisconnect(bus);
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onConnect = () => {
      clearTimeout(timer);
      bus.removeListener('error', fail);
      resolve(bus);
    };
    bus.once('connect', onConnect);
    bus.once('error', fail);
  });
}

/** True when the socket is usocket's and the bus agreed to NEGOTIATE_UNIX_FD. */
export function supportsUnixFd(bus: dbus.MessageBus): boolean {
  const stream = (bus as unknown as { _connection?: { stream?: { supportsUnixFd?: boolean } } })._connection?.stream;
  return stream?.supportsUnixFd === true;
}

export function safeDisconnect(bus: dbus.MessageBus): void {
  try {
    bus.disconnect();
  } catch {
    // Already closed.
  }
}

export async function callBus(bus: dbus.MessageBus, member: string, signature: string, body: unknown[]): Promise<unknown[]> {
  const reply = await bus.call(
    new dbus.Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member,
      signature,
      body,
    }),
  );
  return reply?.body ?? [];
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
