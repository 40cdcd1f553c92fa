// toMessage makes of a read message exactly what dbus-next's connection
// makes of it (new Message(messageToJsFmt(raw))), or throws what that
// throws, the first time a name is seen and once it is remembered.
import test from 'ava';
import { EventEmitter } from 'node:events';
import dbus from 'dbus-next';
import { unmarshalMessages, claimDeliveredFds } from '../../src/bus/fd-aware-reader';
import { toMessage } from '../../src/bus/incoming-message';
import { wireBytes, type WireMessage } from '../helpers/wire-bytes';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { messageToJsFmt } = require('dbus-next/lib/marshall-compat') as { messageToJsFmt(raw: Record<string, unknown>): Record<string, unknown> };

/** The raw message the reader hands on for these bytes (a stream no connection is registered for). */
function readRaw(m: WireMessage): Record<string, unknown> {
  let data: Buffer = wireBytes(m);
  const stream = Object.assign(new EventEmitter(), {
    read(size?: number) {
      if (size === undefined || data.length < size) return null;
      const chunk = data.subarray(0, size);
      data = data.subarray(size);
      return chunk;
    },
  });
  let raw: Record<string, unknown> | undefined;
  unmarshalMessages(stream, (r) => {
    claimDeliveredFds();
    raw = r;
  }, {});
  stream.emit('readable');
  return raw!;
}

function outcome(make: () => dbus.Message): unknown {
  try {
    return make();
  } catch (err) {
    return { threw: (err as Error).message };
  }
}

const CALL: Array<[number, string, unknown]> = [[1, 'o', '/org/nsmount/NsMount1'], [2, 's', 'org.nsmount.NsMount1.Manager'], [6, 's', 'org.nsmount.NsMount1'], [7, 's', ':1.4']];

const sameAsDbusNext = test.macro({
  exec(t, m: WireMessage) {
    for (let round = 0; round < 2; round++) {
      const ours = outcome(() => toMessage(readRaw(m)));
      const theirs = outcome(() => new dbus.Message(messageToJsFmt(readRaw(m)) as never));
      t.deepEqual(ours, theirs, `round ${round}`);
    }
  },
  title: (title) => title ?? '',
});

test('Ping', sameAsDbusNext, { endian: 'l', type: 1, serial: 3, fields: [[1, 'o', '/org/nsmount/NsMount1'], [2, 's', 'org.freedesktop.DBus.Peer'], [3, 's', 'Ping'], [6, 's', 'org.nsmount.NsMount1'], [7, 's', ':1.4']] });
test('a call with options', sameAsDbusNext, {
  endian: 'B',
  type: 1,
  flags: 4,
  serial: 4,
  fields: [...CALL, [3, 's', 'AllocateUserNamespace'], [8, 'g', 'sua{sv}']],
  signature: 'sua{sv}',
  body: ['x', 0, [['A', ['s', 'y']], ['B', ['a{sv}', [['C', ['t', 5n]]]]]]],
});
test('a call without interface or destination', sameAsDbusNext, { endian: 'l', type: 1, serial: 5, fields: [[1, 'o', '/'], [3, 's', 'Introspect']] });
test('a method return', sameAsDbusNext, { endian: 'l', type: 2, serial: 6, fields: [[5, 'u', 3], [6, 's', ':1.4'], [7, 's', ':1.1'], [8, 'g', '(bba{ss})']], signature: '(bba{ss})', body: [[true, false, [['k', 'v']]]] });
test('an error', sameAsDbusNext, { endian: 'l', type: 3, serial: 7, fields: [[4, 's', 'org.freedesktop.DBus.Error.NameHasNoOwner'], [5, 'u', 3], [8, 'g', 's']], signature: 's', body: ['gone'] });
test('a signal', sameAsDbusNext, { endian: 'l', type: 4, serial: 8, fields: [[1, 'o', '/org/freedesktop/DBus'], [2, 's', 'org.freedesktop.DBus'], [3, 's', 'NameOwnerChanged'], [7, 's', 'org.freedesktop.DBus'], [8, 'g', 'sss']], signature: 'sss', body: ['a.b', '', ':1.9'] });
test('a member name dbus-next refuses', sameAsDbusNext, { endian: 'l', type: 1, serial: 9, fields: [[1, 'o', '/a'], [3, 's', '1Ping']] });
test('an object path dbus-next refuses', sameAsDbusNext, { endian: 'l', type: 1, serial: 9, fields: [[1, 'o', '/a//b'], [3, 's', 'Ping']] });
test('a destination dbus-next refuses', sameAsDbusNext, { endian: 'l', type: 1, serial: 9, fields: [[1, 'o', '/a'], [3, 's', 'Ping'], [6, 's', 'nodots']] });
test('an interface dbus-next refuses', sameAsDbusNext, { endian: 'l', type: 1, serial: 9, fields: [[1, 'o', '/a'], [2, 's', 'a..b'], [3, 's', 'Ping']] });
test('an error name dbus-next refuses', sameAsDbusNext, { endian: 'l', type: 3, serial: 9, fields: [[4, 's', 'Error'], [5, 'u', 1]] });
test('a call without a member', sameAsDbusNext, { endian: 'l', type: 1, serial: 9, fields: [[1, 'o', '/a']] });
test('a signal without an interface', sameAsDbusNext, { endian: 'l', type: 4, serial: 9, fields: [[1, 'o', '/a'], [3, 's', 'Changed']] });
test('a return without a reply serial', sameAsDbusNext, { endian: 'l', type: 2, serial: 9, fields: [[6, 's', ':1.4']] });
test('an unknown message type', sameAsDbusNext, { endian: 'l', type: 9, serial: 9, fields: [[1, 'o', '/a'], [3, 's', 'Ping']] });
test('a type of 0', sameAsDbusNext, { endian: 'l', type: 0, serial: 9, fields: [[1, 'o', '/a'], [3, 's', 'Ping']] });
