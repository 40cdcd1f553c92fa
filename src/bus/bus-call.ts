import dbus from 'dbus-next';
import type { MessageBus } from './connection';
import { FairGate } from './fair-gate';

export interface BusCall {
  destination: string;
  path: string;
  interface: string;
  member: string;
  signature?: string;
  body?: unknown[];
  /** Header flags, e.g. 0x4 ALLOW_INTERACTIVE_AUTHORIZATION. */
  flags?: number;
}

/** A failed call: `name` is the D-Bus error name, when the peer sent one. */
export class BusCallError extends Error {
  constructor(readonly errorName: string | undefined, message: string) {
    super(message);
  }
}

/**
 * dbus-daemon answers a connection's method call with LimitsExceeded once
 * the connection already waits for max_replies_per_connection replies (128
 * on the system bus). Past that, polkit could not be asked and a caller
 * would be refused only because other users kept the daemon busy; so the
 * daemon's own calls stay below it and wait their turn, per queue.
 */
export const BUS_CALLS_IN_FLIGHT = 100;
const gates = new WeakMap<MessageBus, FairGate>();

export interface BusCallOptions {
  /** Whose turn this call waits for, e.g. the caller's uid; calls of other queues are not held up behind it. */
  queue?: string;
}

export async function callBus(bus: MessageBus, call: BusCall, opts: BusCallOptions = {}): Promise<unknown[]> {
  let gate = gates.get(bus);
  if (!gate) {
    gate = new FairGate(BUS_CALLS_IN_FLIGHT);
    gates.set(bus, gate);
  }
  return gate.run(opts.queue ?? 'nsmountd', () => callBusNow(bus, call));
}

async function callBusNow(bus: MessageBus, call: BusCall): Promise<unknown[]> {
  const message = new dbus.Message({
    destination: call.destination,
    path: call.path,
    interface: call.interface,
    member: call.member,
    signature: call.signature ?? '',
    body: call.body ?? [],
    flags: call.flags ?? 0,
  });
  let reply: dbus.Message | null;
  try {
    reply = await bus.call(message);
  } catch (err) {
    const e = err as { type?: string; text?: string; message?: string };
    throw new BusCallError(e.type, e.text ?? e.message ?? String(err));
  }
  return reply?.body ?? [];
}

export const DBUS_DAEMON = {
  destination: 'org.freedesktop.DBus',
  path: '/org/freedesktop/DBus',
  interface: 'org.freedesktop.DBus',
} as const;
