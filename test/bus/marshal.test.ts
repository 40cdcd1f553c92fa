// The direct marshaller writes byte for byte what dbus-next's
// marshallMessage writes, with the same fds, for every message the daemon
// sends and for odd values; what it declines, dbus-next still handles
// exactly as before (the same bytes, or the same exception).
import test from 'ava';
import dbus from 'dbus-next';
import { marshalDirectly, marshalMessage } from '../../src/bus/marshal';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { marshallMessage } = require('dbus-next/lib/marshall-compat') as { marshallMessage: (msg: dbus.Message) => [Buffer, number[]] };

const V = (signature: string, value: unknown) => new dbus.Variant(signature, value);
const call = { serial: 41, sender: ':1.77' } as dbus.Message;
/** bus.send gives each message its serial before marshalling. */
const sent = (m: dbus.Message, n = 9) => Object.assign(m, { serial: n });
const reply = (signature: string, body: unknown[]) => () => sent(dbus.Message.newMethodReturn(call, signature, body));
const method = (fields: Record<string, unknown>) => () => {
  const m = new dbus.Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'X', ...fields });
  m.serial = 9;
  return m;
};
const serial = (make: () => dbus.Message, n: number) => () => Object.assign(make(), { serial: n });

function outcome(marshal: (m: dbus.Message) => [Buffer, number[]], msg: dbus.Message): unknown {
  try {
    const [bytes, fds] = marshal(msg);
    return { hex: bytes.toString('hex'), fds };
  } catch (err) {
    return { threw: (err as Error).message };
  }
}

const direct = test.macro({
  exec(t, make: () => dbus.Message) {
    const mine = marshalDirectly(make());
    t.not(mine, undefined, 'written directly');
    t.deepEqual(outcome(() => mine!, make()), outcome(marshallMessage, make()));
  },
  title: (title) => `direct: ${title}`,
});

const declined = test.macro({
  exec(t, make: () => dbus.Message) {
    t.is(marshalDirectly(make()), undefined);
    t.deepEqual(outcome(marshalMessage, make()), outcome(marshallMessage, make()));
  },
  title: (title) => `left to dbus-next: ${title}`,
});

// What the daemon sends.
test('Ping reply', direct, reply('', []));
test('GetMachineId reply', direct, reply('s', ['0123456789abcdef0123456789abcdef']));
test('AllocateUserNamespace reply', direct, reply('h', [7]));
test('IdmapDirectory reply with sizes', direct, reply('huu', [12, 2147352576, 65536]));
test('ListMounts reply', direct, reply('a(susst)', [[['/home/a', 1000, 'idmap', 'ext4', 5n], ['/x', 0, '', '', 0n]]]));
test('ListUserNamespaces reply', direct, reply('a(suuutt)', [[['build', 1000, 524288, 65536, 4026532841n, 1n]]]));
test('Mount reply', direct, reply('a(ssssttbh)', [[['root', 'ext4', 'uuid', 'label', 0n, 16777216n, true, 3], ['usr', 'erofs', '', '', 1n, 2n, false, 4]]]));
test('empty array of structs', direct, reply('a(ssssttbh)', [[]]));
test('Properties.Get reply', direct, reply('v', [V('s', '0.1.0')]));
test('Properties.GetAll reply', direct, reply('a{sv}', [{ Version: V('s', '0.1.0'), Features: V('as', ['idmap', 'mount']), Pool: V('(uu)', [1, 2]), Empty: V('a{sv}', {}) }]));
test('Introspect reply, a long string', direct, reply('s', ['<node>' + 'x'.repeat(20000) + '</node>']));
test('error', direct, () => sent(dbus.Message.newError(call as unknown as string, 'org.nsmount.NsMount1.Error.NotAuthorized', 'Not allowed: “ünïcødé” 🙂')));
test('error with an empty text', direct, () => sent(dbus.Message.newError(call as unknown as string, 'org.freedesktop.DBus.Error.InvalidArgs', '')));
test('CheckAuthorization', direct, () => {
  const m = new dbus.Message({
    destination: 'org.freedesktop.PolicyKit1',
    path: '/org/freedesktop/PolicyKit1/Authority',
    interface: 'org.freedesktop.PolicyKit1.Authority',
    member: 'CheckAuthorization',
    signature: '(sa{sv})sa{ss}us',
    body: [['system-bus-name', { name: V('s', ':1.5') }], 'org.nsmount.mount-image', { 'org.nsmount.image': '/srv/a b', polkit_message: 'x' }, 1, ''],
    flags: 0,
  });
  m.serial = 1234;
  return m;
});
test('GetConnectionCredentials', direct, method({ member: 'GetConnectionCredentials', signature: 's', body: [':1.5'] }));
test('RequestName', direct, method({ member: 'RequestName', signature: 'su', body: ['org.nsmount.NsMount1', 4] }));
test('AddMatch', direct, method({ member: 'AddMatch', signature: 's', body: ["type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'"] }));
test('a call that expects no reply', direct, method({ member: 'X', flags: 1 }));
test('interactive flag', direct, method({ member: 'X', flags: 4 }));
test('signal (ut)', direct, () => {
  const m = dbus.Message.newSignal('/org/nsmount/NsMount1', 'org.nsmount.NsMount1.Manager', 'MountAdded', 'ut', [1000, 2n ** 64n - 1n]);
  m.serial = 0xffffffff;
  return m;
});
test('every basic type at its limits', direct, method({
  signature: 'ybnqiuxtdsogybnqiuxtd',
  body: [0, true, -32768, 65535, -2147483648, 4294967295, -(2n ** 63n - 1n), 2n ** 64n - 1n, -1.5e300, 'ünï', '/a/b_c', 'a{sv}(ii)', 255, 0, 32767, 0, 2147483647, 0, 2n ** 63n - 1n, 0n, -0],
}));
test('booleans as 0 and 1', direct, method({ signature: 'bb', body: [0, 1] }));
test('negative int64s', direct, method({ signature: 'xxx', body: [-1n, -5n, -(2n ** 32n)] }));
test('a lone surrogate in a string', direct, method({ signature: 's', body: ['a\ud800b'] }));
test('alignment after single bytes', direct, method({ signature: 'yxyayyn(yt)', body: [1, 2n, 3, Buffer.from([1, 2, 3]), 4, 5, [6, 7n]] }));
test('byte arrays from a Buffer and from an array', direct, method({ signature: 'ayayaay', body: [Buffer.from('hello'), [1, 2, 255], [Buffer.from('a'), [2], Buffer.alloc(0)]] }));
test('empty arrays of 8-aligned elements', direct, method({ signature: 'atadaxa(y)a{sv}u', body: [[], [], [], [], {}, 1] }));
test('nested variants and dicts', direct, method({
  signature: 'a{sv}av(va{sa{sv}})',
  body: [
    { a: V('v', V('t', 3n)), b: V('a{sv}', { c: V('ay', Buffer.from([9])) }), d: V('(sv)', ['x', V('b', false)]) },
    [V('s', 'x'), V('ai', [1, -1]), V('g', 'a{sv}')],
    [V('o', '/'), { k: { j: V('d', 2.5) } }],
  ],
}));
test('fds, indexed in order', direct, method({ signature: 'hah(hh)', body: [10, [11, 12], [13, 10]] }));
test('a body larger than the reused buffer', direct, method({ signature: 'a{ss}', body: [Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`key${i}`, 'v'.repeat(i % 7)]))] }));
test('a body larger than the buffer the writer keeps', direct, method({ signature: 'sas', body: ['ü'.repeat(200000), ['x', 'y']] }));
test('the largest serial', direct, serial(reply('u', [1]), 0xffffffff));

// What dbus-next writes in its own way or refuses: the same result either way.
test('-2^63, which dbus-next refuses', declined, method({ signature: 'x', body: [-(2n ** 63n)] }));
test('a uint64 given as a number', declined, method({ signature: 't', body: [5] }));
test('a string given as a Buffer', declined, method({ signature: 's', body: [Buffer.from('x')] }));
test('a variant whose signature holds two types', declined, method({ signature: 'v', body: [V('ss', 'x')] }));
test('a variant of an empty signature', declined, method({ signature: 'v', body: [V('', 'x')] }));
test('a variant where the type is not v', declined, method({ signature: 's', body: [V('s', 'x')] }));
test('a variant inside a struct where the type is not v', declined, method({ signature: '(s)', body: [[V('s', 'x')]] }));
test('a plain value where a variant belongs', declined, method({ signature: 'a{sv}', body: [{ a: 'x' }] }));
test('a number for a string', declined, method({ signature: 's', body: [5] }));
test('a string with a NUL', declined, method({ signature: 's', body: ['a\0b'] }));
test('an out-of-range byte', declined, method({ signature: 'y', body: [256] }));
test('a non-integer uint32', declined, method({ signature: 'u', body: [1.5] }));
test('NaN as a double', declined, method({ signature: 'd', body: [NaN] }));
test('too few values', declined, method({ signature: 'ss', body: ['a'] }));
test('values without a signature', declined, method({ signature: '', body: ['a'] }));
test('a struct of the wrong length', declined, method({ signature: '(ss)', body: [['a']] }));
test('a dict that is an array', declined, method({ signature: 'a{ss}', body: [[['a', 'b']]] }));
test('a dict with integer keys', declined, method({ signature: 'a{us}', body: [{ 1: 'a' }] }));
test('null in an array', declined, method({ signature: 'as', body: [[null]] }));
test('an invalid signature', declined, method({ signature: 'a', body: [[]] }));
test('a signature longer than 255', declined, method({ signature: 'y'.repeat(256), body: Array(256).fill(1) }));
test('no serial', declined, () => dbus.Message.newMethodReturn(call, '', []));
test('a stale unixFd from an earlier marshalling', declined, () => Object.assign(reply('', [])(), { unixFd: 1 }));
test('a reply serial that is not a number', declined, () => Object.assign(reply('', [])(), { replySerial: '5' }));
test('a string path', declined, () => Object.assign(method({})(), { path: 5 }));

test('after a message too large to keep the buffer for, the next is written whole', (t) => {
  const make = reply('a{sv}', [{ a: V('s', 'x'), b: V('u', 3) }]);
  t.truthy(marshalDirectly(method({ signature: 's', body: ['z'.repeat(400000)] })()));
  t.deepEqual(marshalDirectly(make()), marshallMessage(make()));
});

test('messages written one after another do not share bytes', (t) => {
  const first = marshalDirectly(reply('s', ['x'.repeat(100)])())!;
  const copy = Buffer.from(first[0]);
  marshalDirectly(reply('s', ['y'.repeat(100)])());
  t.deepEqual(first[0], copy);
});
