// Connecting to a bus with working UNIX fd passing. dbus-next silently
// falls back to a plain net.Socket when usocket is missing, after which any
// reply carrying an fd is refused by the bus and the peer hangs forever
// (facts.md), so a connection that cannot pass fds is an error here.
import dbus from 'dbus-next';
import { installFdAwareReader, claimDeliveredFds } from './fd-aware-reader';
import { setCloexec } from '../native/fd';

export const SYSTEM_BUS_DEFAULT_ADDRESS = 'unix:path=/run/dbus/system_bus_socket';

export type MessageBus = dbus.MessageBus;

/** The fds that arrived with each message, owned by whoever handles it. */
const fdsByMessage = new WeakMap<object, number[]>();

export function messageFds(message: object): number[] {
  return fdsByMessage.get(message) ?? [];
}

/** Takes the fds away from the message so nobody closes them twice. */
export function takeMessageFds(message: object): number[] {
  const fds = fdsByMessage.get(message) ?? [];
  fdsByMessage.delete(message);
  return fds;
}

export function resolveBusAddress(explicit?: string): string {
  return explicit || process.env.DBUS_SYSTEM_BUS_ADDRESS || SYSTEM_BUS_DEFAULT_ADDRESS;
}

export class FdPassingUnavailable extends Error {}

interface StreamInternals {
  supportsUnixFd?: boolean;
  fd?: number;
  constructor: { name: string };
}

function streamOf(bus: MessageBus): StreamInternals {
  return (bus as unknown as { _connection: { stream: StreamInternals } })._connection.stream;
}

/**
 * Opens a connection and waits for Hello. Rejects when the transport cannot
 * pass fds (usocket missing, or the bus declined NEGOTIATE_UNIX_FD).
 */
export async function connectBus(opts: { address: string; timeoutMs?: number }): Promise<MessageBus> {
  installFdAwareReader();
  const bus = dbus.sessionBus({ busAddress: opts.address, negotiateUnixFd: true } as never);
  bus.on('message', (message: object) => {
    const fds = claimDeliveredFds();
    if (fds.length > 0) fdsByMessage.set(message, fds);
  });
  const stream = streamOf(bus);
  if (stream.constructor.name !== 'USocket') {
    bus.disconnect();
    throw new FdPassingUnavailable(
      'dbus-next is not using the usocket transport, so UNIX fds cannot be passed; reinstall with usocket 1.1.0 (npm ci)',
    );
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out connecting to ${opts.address}`)), opts.timeoutMs ?? 10000);
    bus.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    bus.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  if (!stream.supportsUnixFd) {
    bus.disconnect();
    throw new FdPassingUnavailable(`the bus at ${opts.address} refused UNIX fd passing`);
  }
  if (typeof stream.fd === 'number') setCloexec(stream.fd);
  return bus;
}
