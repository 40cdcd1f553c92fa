// Helpers shared by the bus-policy test and its unprivileged child: send a
// call carrying a chosen number of fds and report what came back.
import * as dbus from 'dbus-next';
import { openSync, closeSync } from 'node:fs';

export const NAME = 'org.nsmount.NsMount1';
export const PATH = '/org/nsmount/NsMount1';
export const MANAGER = 'org.nsmount.NsMount1.Manager';

export function connect(address: string): dbus.MessageBus {
  // sessionBus() is the constructor that honours an address; the option
  // is missing from dbus-next's typings.
  return dbus.sessionBus({ busAddress: address, negotiateUnixFd: true } as dbus.SessionBusOptions);
}

export interface CallSpec {
  iface: string | undefined;
  member: string;
  fds: number;
}

/** 'delivered:N' (the service saw N fds) or the D-Bus error name. */
export async function callWithFds(bus: dbus.MessageBus, spec: CallSpec): Promise<string> {
  const fds = Array.from({ length: spec.fds }, () => openSync('/dev/null', 'r'));
  try {
    const reply = await bus.call(
      new dbus.Message({
        destination: NAME,
        path: PATH,
        interface: spec.iface,
        member: spec.member,
        signature: 'h'.repeat(spec.fds),
        body: fds,
      }),
    );
    return `delivered:${reply!.body[0]}`;
  } catch (err) {
    if (err instanceof dbus.DBusError) return err.type;
    throw err;
  } finally {
    fds.forEach((fd) => closeSync(fd));
  }
}

export async function tryOwn(bus: dbus.MessageBus): Promise<string> {
  try {
    return `owned:${await bus.requestName(NAME, dbus.NameFlag.DO_NOT_QUEUE)}`;
  } catch (err) {
    if (err instanceof dbus.DBusError) return err.type;
    throw err;
  }
}
