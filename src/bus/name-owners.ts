// The caller directory forgets a sender once the bus says its name has gone,
// so a later process given the same unique name can never inherit a cached
// identity. The daemon and the directory's own test wire it the same way.
import dbus from 'dbus-next';
import type { MessageBus } from './connection';
import { callBus, DBUS_DAEMON } from './bus-call';
import type { CallerDirectory } from './caller';

const NAME_OWNER_CHANGED = "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'";

export async function followNameOwners(bus: MessageBus, callers: CallerDirectory): Promise<void> {
  bus.on('message', (msg: dbus.Message) => {
    if (msg.type === dbus.MessageType.SIGNAL && msg.sender === 'org.freedesktop.DBus' && msg.member === 'NameOwnerChanged') {
      const [name, , newOwner] = msg.body as [string, string, string];
      callers.nameOwnerChanged(name, newOwner);
    }
  });
  await callBus(bus, { ...DBUS_DAEMON, member: 'AddMatch', signature: 's', body: [NAME_OWNER_CHANGED] });
}
