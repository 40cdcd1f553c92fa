// Errors of the D-Bus protocol itself (org.freedesktop.DBus.Error.*): a
// call the bus routing or a standard interface refuses, before any
// nsmountd method runs.
import type dbus from 'dbus-next';

export class BusError extends Error {
  constructor(readonly dbusName: string, message: string) {
    super(message);
  }
}

export function unknownMethod(msg: dbus.Message): BusError {
  return new BusError(
    'org.freedesktop.DBus.Error.UnknownMethod',
    `no method ${msg.member ?? ''} on interface ${msg.interface ?? '(none)'} with signature '${msg.signature ?? ''}'`,
  );
}

export function unknownObject(path: string): BusError {
  return new BusError('org.freedesktop.DBus.Error.UnknownObject', `no object at ${path}`);
}

// Introspect, Ping and GetMachineId take no arguments. Answering a call
// with arguments as if it had none would tell the caller a signature works
// that the interface does not have; dbus-daemon and GDBus refuse it too.
export function takesNoArguments(msg: dbus.Message): void {
  if ((msg.signature ?? '') !== '') {
    throw new BusError('org.freedesktop.DBus.Error.InvalidArgs', `${msg.member} takes no arguments, got signature '${msg.signature}'`);
  }
}
