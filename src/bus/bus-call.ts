import dbus from 'dbus-next';
import type { MessageBus } from './connection';

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

export async function callBus(bus: MessageBus, call: BusCall): Promise<unknown[]> {
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
