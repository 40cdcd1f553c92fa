// A filled-in signal template is byte for byte what dbus-next marshals for
// the same signal, serial and body.
import test from 'ava';
import dbus from 'dbus-next';
import { SignalTemplate } from '../../src/bus/signal-template';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { marshallMessage } = require('dbus-next/lib/marshall-compat') as { marshallMessage: (msg: dbus.Message) => [Buffer, number[]] };

const PATH = '/org/nsmount/NsMount1';
const IFACE = 'org.nsmount.NsMount1.Manager';

const sameAsDbusNext = test.macro({
  exec(t, member: string, serial: number, ownerUid: number, id: bigint) {
    const msg = dbus.Message.newSignal(PATH, IFACE, member, 'ut', [ownerUid, id]);
    msg.serial = serial;
    const [expected] = marshallMessage(msg);
    t.deepEqual(new SignalTemplate(PATH, IFACE, member).fill(serial, ownerUid, id), expected);
  },
  title: (_, member, serial, ownerUid, id) => `${member} serial ${serial} (${ownerUid}, ${id})`,
});

test(sameAsDbusNext, 'UserNamespaceAllocated', 1, 0, 0n);
test(sameAsDbusNext, 'UserNamespaceReclaimed', 2, 1000, 4026532841n);
test(sameAsDbusNext, 'MountAdded', 0xfffffffe, 0xfffffffe, 0xffffffffffffffffn);
test(sameAsDbusNext, 'MountRemoved', 123456, 65534, 0x8000000000000001n);

test('one template fills many messages, each independent of the last', (t) => {
  const template = new SignalTemplate(PATH, IFACE, 'MountAdded');
  const first = template.fill(7, 1000, 42n);
  const firstCopy = Buffer.from(first);
  template.fill(8, 1001, 43n);
  t.deepEqual(first, firstCopy);
});
