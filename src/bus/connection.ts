// Connecting to a bus with working UNIX fd passing. dbus-next silently
// falls back to a plain net.Socket when usocket is missing, after which any
// reply carrying an fd is refused by the bus and the peer hangs forever
// (facts.md), so a connection that cannot pass fds is an error here.
import dbus from 'dbus-next';
import type { EventEmitter } from 'node:events';
import { installFdAwareReader, deliverTo, claimDeliveredFds, onUndelivered, screenBodies, type BodyScreen, type UndeliveredHandler } from './fd-aware-reader';
import { setCloexec } from '../native/fd';
import { patchUsocketFdWrites } from './usocket-fd-write';
import { marshalMessage } from './marshal';

export { resolveBusAddress } from './address';

export type MessageBus = dbus.MessageBus;
export type { BodyScreen };

/** The fds that arrived with each message, owned by whoever handles it. */
const fdsByMessage = new WeakMap<object, number[]>();

/** Takes the fds away from the message so nobody closes them twice. */
export function takeMessageFds(message: object): number[] {
  const fds = fdsByMessage.get(message) ?? [];
  fdsByMessage.delete(message);
  return fds;
}

export class FdPassingUnavailable extends Error {}

interface StreamInternals {
  supportsUnixFd?: boolean;
  writable?: boolean;
  write(chunk: unknown): boolean;
  fd?: number;
  destroyed?: boolean;
  readable?: boolean;
  /** usocket's native handle, dropped when the socket fails or closes. */
  _wrap?: unknown;
  constructor: { name: string };
}

interface ConnectionInternals {
  stream: StreamInternals;
  /** What bus.send and bus.call hand each message to; dbus-next sets it on connect and again on end. */
  message(msg: dbus.Message): void;
}

function connectionOf(bus: MessageBus): ConnectionInternals {
  return (bus as unknown as { _connection: ConnectionInternals })._connection;
}

function streamOf(bus: MessageBus): StreamInternals {
  return connectionOf(bus).stream;
}

/**
 * dbus-next's connected `message` (lib/connection.js) with the direct
 * marshaller (marshal.ts) in place of its own, for a connection passing
 * fds (usocket's write shape). dbus-next replaces it again once the stream
 * ends, with one that reports the closed stream.
 */
function marshalDirectly(bus: MessageBus): void {
  const connection = connectionOf(bus);
  const stream = connection.stream;
  connection.message = (msg: dbus.Message): void => {
    if (!stream.writable) throw new Error('Cannot send message, stream is closed');
    const [data, fds] = marshalMessage(msg);
    stream.write({ data, fds });
  };
}

/**
 * Opens a connection and waits for Hello. Unless `requireUnixFd` is false,
 * rejects when the transport cannot pass fds (usocket missing, or the bus
 * declined NEGOTIATE_UNIX_FD).
 */
export async function connectBus(opts: { address: string; timeoutMs?: number; requireUnixFd?: boolean }): Promise<MessageBus> {
  installFdAwareReader();
  const requireUnixFd = opts.requireUnixFd ?? true;
  const bus = dbus.sessionBus({ busAddress: opts.address, negotiateUnixFd: true } as never);
  deliverTo(streamOf(bus), connectionOf(bus) as unknown as EventEmitter);
  bus.on('message', (message: object) => {
    const fds = claimDeliveredFds();
    if (fds.length > 0) fdsByMessage.set(message, fds);
  });
  const giveUp = (err: Error): Error => {
    // dbus-next emits further errors on a dead connection; keep them quiet.
    bus.on('error', () => {});
    try {
      bus.disconnect();
    } catch {
      // already closed
    }
    return err;
  };
  const stream = streamOf(bus);
  if (requireUnixFd && stream.constructor.name !== 'USocket') {
    throw giveUp(
      new FdPassingUnavailable(
        'dbus-next is not using the usocket transport, so UNIX fds cannot be passed; reinstall with usocket 1.1.0 (npm ci)',
      ),
    );
  }
  if (stream.constructor.name === 'USocket') patchUsocketFdWrites(stream);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(giveUp(new Error(`timed out connecting to ${opts.address}`))), opts.timeoutMs ?? 10000);
    const onError = (err: Error) => {
      clearTimeout(timer);
      bus.removeListener('connect', onConnect);
      reject(giveUp(err instanceof Error ? err : new Error(String(err))));
    };
    const onConnect = () => {
      clearTimeout(timer);
      bus.removeListener('error', onError);
      resolve();
    };
    bus.once('connect', onConnect);
    bus.once('error', onError);
  });
  if (requireUnixFd && !stream.supportsUnixFd) {
    throw giveUp(new FdPassingUnavailable(`the bus at ${opts.address} refused UNIX fd passing`));
  }
  if (typeof stream.fd === 'number') setCloexec(stream.fd);
  if (stream.supportsUnixFd) marshalDirectly(bus);
  return bus;
}

/**
 * Sends a message that is already marshalled and carries no fds, queued in
 * order with everything `bus.send` sends; `marshalled` gets the message's
 * serial. Throws, as `bus.send` does, once the socket is closed.
 */
export function sendMarshalled(bus: MessageBus, marshalled: (serial: number) => Buffer): void {
  const stream = streamOf(bus);
  if (!stream.writable) throw new Error('Cannot send message, stream is closed');
  const data = marshalled(bus.newSerial());
  // The shapes dbus-next's own connection writes (lib/connection.js).
  if (stream.supportsUnixFd) stream.write({ data, fds: [] });
  else stream.write(data);
}

/** Calls `handler` for each message on `bus` that could not be read or whose delivery threw. */
export function onUndeliveredMessage(bus: MessageBus, handler: UndeliveredHandler): void {
  onUndelivered(streamOf(bus), handler);
}

/** Which message bodies on `bus` are decoded at all (see BodyScreen). */
export function screenMessageBodies(bus: MessageBus, screen: BodyScreen): void {
  screenBodies(streamOf(bus), screen);
}

/**
 * Whether the socket to the bus still works. dbus-next emits 'error' both
 * when the socket fails and when it cannot turn one received message into
 * a Message; only the first is a lost connection.
 */
export function isConnectionOpen(bus: MessageBus): boolean {
  const stream = streamOf(bus);
  if (stream.destroyed || stream.readable === false) return false;
  return stream.constructor.name !== 'USocket' || (stream._wrap !== null && stream._wrap !== undefined);
}

/** True when the socket is usocket's and the bus agreed to NEGOTIATE_UNIX_FD. */
export function supportsUnixFd(bus: MessageBus): boolean {
  return streamOf(bus).supportsUnixFd === true;
}

export function safeDisconnect(bus: MessageBus): void {
  try {
    bus.disconnect();
  } catch {
    // Already closed.
  }
}
