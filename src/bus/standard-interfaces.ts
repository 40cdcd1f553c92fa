// The standard interfaces every D-Bus object answers (Peer, Properties),
// for the Manager object. Introspectable lives in introspection.ts.
import type dbus from 'dbus-next';
import { BusError, takesNoArguments, unknownMethod } from './bus-error';
import type { MethodReply } from './method';
import { MANAGER_INTERFACE, OBJECT_PATH } from './names';

export const INTROSPECTABLE = 'org.freedesktop.DBus.Introspectable';
export const PEER = 'org.freedesktop.DBus.Peer';
export const PROPERTIES = 'org.freedesktop.DBus.Properties';

/** The signature each Properties member takes. */
export const PROPERTY_SIGNATURES: Readonly<Record<string, string>> = { Get: 'ss', GetAll: 's', Set: 'ssv' };

export interface PropertySource {
  /** All readable properties of the Manager interface, as variants. */
  all(): Record<string, dbus.Variant>;
}

export function peerCall(msg: dbus.Message, machineId: () => string): MethodReply {
  if (msg.member === 'Ping') {
    takesNoArguments(msg);
    return { signature: '', body: [] };
  }
  if (msg.member === 'GetMachineId') {
    takesNoArguments(msg);
    return { signature: 's', body: [machineId()] };
  }
  throw unknownMethod(msg);
}

/**
 * A name from a call's body, echoed in an error: quoted, with control
 * characters escaped, so the text shows where it ends and reads as one line.
 */
function quoted(name: unknown): string {
  return JSON.stringify(String(name));
}

export function propertiesCall(msg: dbus.Message, properties: PropertySource): MethodReply {
  const body = msg.body ?? [];
  const all = properties.all();
  const wantInterface = (name: unknown) => {
    if (name !== MANAGER_INTERFACE && name !== '') {
      throw new BusError('org.freedesktop.DBus.Error.UnknownInterface', `no interface ${quoted(name)} at ${OBJECT_PATH}`);
    }
  };
  switch (msg.member) {
    case 'Get': {
      if (msg.signature !== PROPERTY_SIGNATURES.Get) throw new BusError('org.freedesktop.DBus.Error.InvalidArgs', "Get takes signature 'ss'");
      wantInterface(body[0]);
      const value = all[body[1] as string];
      if (!value) throw new BusError('org.freedesktop.DBus.Error.UnknownProperty', `no property ${quoted(body[1])}`);
      return { signature: 'v', body: [value] };
    }
    case 'GetAll':
      if (msg.signature !== PROPERTY_SIGNATURES.GetAll) throw new BusError('org.freedesktop.DBus.Error.InvalidArgs', "GetAll takes signature 's'");
      wantInterface(body[0]);
      return { signature: 'a{sv}', body: [all] };
    case 'Set':
      if (msg.signature !== PROPERTY_SIGNATURES.Set) throw new BusError('org.freedesktop.DBus.Error.InvalidArgs', "Set takes signature 'ssv'");
      wantInterface(body[0]);
      if (!all[body[1] as string]) throw new BusError('org.freedesktop.DBus.Error.UnknownProperty', `no property ${quoted(body[1])}`);
      throw new BusError('org.freedesktop.DBus.Error.PropertyReadOnly', `property ${quoted(body[1])} is read-only`);
    default:
      throw unknownMethod(msg);
  }
}
