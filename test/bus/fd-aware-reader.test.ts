// The fd-aware reader reads header fields directly and body signatures
// from a cache; for every message, of either byte order and with odd
// header fields, it must give exactly what dbus-next's own reader gives.
import test from 'ava';
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import dbus from 'dbus-next';
import { unmarshalMessages, claimDeliveredFds } from '../../src/bus/fd-aware-reader';
import { readHeaderFields } from '../../src/bus/header-fields';
import { signatureTrees, MAX_CACHED_SIGNATURES } from '../../src/bus/signature-trees';
import { wireBytes, type WireMessage } from '../helpers/wire-bytes';

/* eslint-disable @typescript-eslint/no-require-imports */
const dbusNextReader = require('dbus-next/lib/message').unmarshalMessages as typeof unmarshalMessages;
const { marshallMessage } = require('dbus-next/lib/marshall-compat') as { marshallMessage: (msg: dbus.Message) => [Buffer, number[]] };
/* eslint-enable @typescript-eslint/no-require-imports */

/** A usocket-like stream holding one message and its fds, in the shapes usocket's read returns. */
class OneMessageStream extends EventEmitter {
  constructor(
    private data: Buffer,
    private fds: number[],
  ) {
    super();
  }

  read(size?: number, fdCount?: number | null): Buffer | { data: Buffer | null; fds: number[] } | null {
    if (size === 0 && typeof fdCount === 'number') return { data: null, fds: this.fds.splice(0, fdCount) };
    if (size === undefined || this.data.length < size) return null;
    const chunk = this.data.subarray(0, size);
    this.data = this.data.subarray(size);
    return fdCount === null ? { data: chunk, fds: this.fds.splice(0) } : chunk;
  }
}

function readWith(reader: typeof unmarshalMessages, bytes: Buffer, fds: number[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const stream = new OneMessageStream(bytes, [...fds]);
  reader(stream, (m) => {
    // Ours hands the fds over here; keep them open, the test owns them.
    claimDeliveredFds();
    out.push(m);
  }, {});
  stream.emit('readable');
  return out;
}

const CALL: Array<[number, string, unknown]> = [
  [1, 'o', '/org/nsmount/NsMount1'],
  [2, 's', 'org.nsmount.NsMount1.Manager'],
  [3, 's', 'AllocateUserNamespace'],
  [6, 's', 'org.nsmount.NsMount1'],
  [7, 's', ':1.42'],
];

interface Case {
  message: Omit<WireMessage, 'endian'>;
  fds?: number;
  /** The direct reader leaves this header to dbus-next's generic one. */
  generic?: boolean;
}

const cases: Record<string, Case> = {
  'Ping, empty body': {
    message: { type: 1, serial: 7, fields: [[1, 'o', '/org/nsmount/NsMount1'], [2, 's', 'org.freedesktop.DBus.Peer'], [3, 's', 'Ping'], [6, 's', 'org.nsmount.NsMount1'], [7, 's', ':1.9']] },
  },
  'call sua{sv}': {
    message: {
      type: 1,
      flags: 4,
      serial: 0xfffffffe,
      fields: [...CALL, [8, 'g', 'sua{sv}']],
      signature: 'sua{sv}',
      body: ['build', 65536, [['Foo', ['s', 'bär']], ['Bar', ['u', 7]], ['Nested', ['av', [['s', 'x'], ['(ub)', [1, true]]]]]]],
    },
  },
  'call ha{sv} with an fd': {
    message: { type: 1, serial: 3, fields: [...CALL, [8, 'g', 'ha{sv}'], [9, 'u', 1]], signature: 'ha{sv}', body: [0, [['ReadOnly', ['b', true]]]] },
    fds: 1,
  },
  'call with two fds, the body naming the second': {
    message: { type: 1, serial: 4, fields: [...CALL, [8, 'g', 'uh'], [9, 'u', 2]], signature: 'uh', body: [5, 1] },
    fds: 2,
  },
  'method return (bba{ss})': {
    message: { type: 2, serial: 11, fields: [[5, 'u', 9], [6, 's', ':1.3'], [7, 's', ':1.1'], [8, 'g', '(bba{ss})']], signature: '(bba{ss})', body: [[true, false, [['a', 'b'], ['', 'é']]]] },
  },
  'error with a message': {
    message: { type: 3, serial: 12, fields: [[4, 's', 'org.freedesktop.DBus.Error.NameHasNoOwner'], [5, 'u', 10], [6, 's', ':1.3'], [8, 'g', 's']], signature: 's', body: ['no owner'] },
  },
  'signal NameOwnerChanged': {
    message: { type: 4, serial: 2, fields: [[1, 'o', '/org/freedesktop/DBus'], [2, 's', 'org.freedesktop.DBus'], [3, 's', 'NameOwnerChanged'], [7, 's', 'org.freedesktop.DBus'], [8, 'g', 'sss']], signature: 'sss', body: [':1.5', ':1.5', ''] },
  },
  'every basic type': {
    message: {
      type: 1,
      serial: 5,
      fields: [...CALL, [8, 'g', 'ybnqiuxtdsogay']],
      signature: 'ybnqiuxtdsogay',
      body: [255, true, -32768, 65535, -2147483648, 4294967295, -(2n ** 63n), 2n ** 64n - 1n, 1.5, 'text', '/a/b', 'a{sv}', [1, 2, 3]],
    },
  },
  'empty strings in the header': {
    message: { type: 1, serial: 6, fields: [[1, 'o', '/'], [3, 's', 'Ping'], [2, 's', ''], [7, 's', '']] },
  },
  'fields in an unusual order, one twice': {
    message: { type: 1, serial: 8, fields: [[7, 's', ':1.1'], [3, 's', 'Ping'], [1, 'o', '/x'], [3, 's', 'GetMachineId']] },
  },
  'an unknown field code': {
    message: { type: 1, serial: 9, fields: [...CALL, [10, 's', 'future']] },
    generic: true,
  },
  'field code 0': {
    message: { type: 1, serial: 9, fields: [...CALL, [0, 'u', 1]] },
    generic: true,
  },
  'PATH as a string, not an object path': {
    message: { type: 1, serial: 10, fields: [[1, 's', '/org/nsmount/NsMount1'], [3, 's', 'Ping']] },
    generic: true,
  },
  'REPLY_SERIAL as a uint64': {
    message: { type: 2, serial: 10, fields: [[5, 't', 9n], [6, 's', ':1.3']] },
    generic: true,
  },
  'UNIX_FDS as a variant of two types': {
    message: { type: 1, serial: 10, fields: [...CALL, [9, '(uu)', [0, 0]]] },
    generic: true,
  },
};

// Strings and signatures ending at every offset modulo 8, so that a reader
// one byte off at the end of a field shows in the next field or the body.
for (let n = 1; n <= 8; n++) {
  cases[`member and signature of length ${n}`] = {
    message: { type: 1, serial: n, fields: [[1, 'o', '/a'], [3, 's', 'M'.repeat(n)], [8, 'g', 'y'.repeat(n)]], signature: 'y'.repeat(n), body: Array.from({ length: n }, (_, i) => i + 1) },
  };
}

function openNulls(count: number): number[] {
  return Array.from({ length: count }, () => fs.openSync('/dev/null', 'r'));
}

const sameAsDbusNext = test.macro({
  exec(t, endian: 'l' | 'B', c: Case) {
    const bytes = wireBytes({ endian, ...c.message });
    const fieldsLength = endian === 'l' ? bytes.readUInt32LE(12) : bytes.readUInt32BE(12);
    const direct = readHeaderFields(bytes.subarray(16), endian.charCodeAt(0), fieldsLength);
    t.is(direct === undefined, c.generic === true, 'which reader reads the header');
    const fds = openNulls(c.fds ?? 0);
    try {
      const ours = readWith(unmarshalMessages, bytes, fds);
      const theirs = readWith(dbusNextReader, bytes, fds);
      t.is(ours.length, 1);
      t.deepEqual(ours, theirs);
      // Twice: cached signature trees are shared, never changed by a read.
      t.deepEqual(readWith(unmarshalMessages, bytes, fds), theirs);
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
  },
  title: (_, endian, c) => `${endian === 'l' ? 'little' : 'big'}-endian: ${Object.entries(cases).find(([, v]) => v === c)![0]}`,
});

for (const c of Object.values(cases)) {
  test(sameAsDbusNext, 'l', c);
  test(sameAsDbusNext, 'B', c);
}

const dbusNextMarshalled = test.macro({
  exec(t, message: dbus.Message) {
    message.serial = 77;
    const [bytes] = marshallMessage(message);
    t.not(readHeaderFields(bytes.subarray(16), bytes[0], bytes.readUInt32LE(12)), undefined);
    t.deepEqual(readWith(unmarshalMessages, bytes, []), readWith(dbusNextReader, bytes, []));
  },
  title: (_, message: dbus.Message) => `as dbus-next marshals it: ${message.member ?? message.errorName ?? 'method return'}`,
});

const sender = (m: dbus.Message): dbus.Message => Object.assign(m, { sender: ':1.8' });
test(dbusNextMarshalled, sender(new dbus.Message({ destination: 'org.nsmount.NsMount1', path: '/org/nsmount/NsMount1', interface: 'org.freedesktop.DBus.Peer', member: 'Ping' })));
test(
  dbusNextMarshalled,
  new dbus.Message({
    destination: 'org.freedesktop.PolicyKit1',
    path: '/org/freedesktop/PolicyKit1/Authority',
    interface: 'org.freedesktop.PolicyKit1.Authority',
    member: 'CheckAuthorization',
    signature: '(sa{sv})sa{ss}us',
    body: [['system-bus-name', { name: new dbus.Variant('s', ':1.5') }], 'org.nsmount.mount-image', { 'org.nsmount.image': '/x' }, 1, ''],
  }),
);
test(dbusNextMarshalled, dbus.Message.newError({ serial: 3, sender: ':1.2' } as unknown as string, 'org.nsmount.NsMount1.Error.NotAuthorized', 'no'));
test(dbusNextMarshalled, dbus.Message.newMethodReturn({ serial: 3, sender: ':1.2' } as dbus.Message, 'a(sa{sv})', [[['x', { A: new dbus.Variant('t', 5n) }]]]));

test('a header whose last field runs past the message is left to the generic reader', (t) => {
  const bytes = wireBytes({ endian: 'l', type: 1, serial: 1, fields: [[1, 'o', '/a'], [3, 's', 'Ping']] });
  const fieldsLength = bytes.readUInt32LE(12);
  t.not(readHeaderFields(bytes.subarray(16), 108, fieldsLength), undefined);
  t.is(readHeaderFields(bytes.subarray(16, 16 + fieldsLength - 3), 108, fieldsLength), undefined);
});

test('the signature cache keeps its first signatures and stops growing at its bound', (t) => {
  const first = signatureTrees('sua{sv}');
  for (let i = 1; i <= MAX_CACHED_SIGNATURES + 10; i++) signatureTrees(`(${'u'.repeat(i)})`);
  t.is(signatureTrees('sua{sv}'), first);
  const beyond = `(${'u'.repeat(MAX_CACHED_SIGNATURES + 20)})`;
  t.not(signatureTrees(beyond), signatureTrees(beyond));
  t.deepEqual(signatureTrees(beyond), signatureTrees(beyond));
  t.throws(() => signatureTrees('a'), { message: /unexpected end/ });
});
