// A peer's message never stops the daemon, never wedges it and never costs
// it for good. Each message comes from a real unprivileged peer on the
// real bus, written byte by byte, and the daemon must answer that peer's
// Ping afterwards, as the same process.
import test from 'ava';
import fs from 'node:fs';
import { rootSerial, rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { sendRawMessages, type RawMessage } from '../helpers/raw-peer';
import { alice } from '../helpers/users';
import { MANAGER_INTERFACE } from '../helpers/paths';

const stack = useTestStack();
const MiB = 1024 * 1024;

/** The daemon's peak resident memory so far, in bytes. */
function peakRss(): number {
  const kib = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${stack.daemon.pid}/status`, 'utf8'));
  return Number(kib![1]) * 1024;
}

rootSerial('fds attached to signals sent to the daemon are closed, not kept', async (t) => {
  const pid = stack.daemon.pid;
  const before = stack.daemon.fdCount();
  const signal: RawMessage = { label: 'signal', type: 4, path: '/org/example', interface: 'org.example.Sig', member: 'Boom', signature: 'hhhhh', body: [0, 1, 2, 3, 4], fds: 5 };
  const replies = await sendRawMessages(alice, stack.address, Array.from({ length: 20 }, () => signal));
  t.deepEqual(replies, { ping: { type: 'return' } });
  // The Ping was read after the signals, so they were handled by now; but
  // an fd whose close may wait (a socket, a pipe, a terminal) is closed on
  // libuv's pool (src/bus/close-fds.ts), so give those closes a moment.
  for (let i = 0; i < 100 && stack.daemon.fdCount() > before; i++) await new Promise((r) => setTimeout(r, 50));
  t.is(stack.daemon.fdCount(), before, '100 fds came with the signals');
  t.is(stack.daemon.pid, pid);
});

// 2M variants of one byte each: 8 MiB on the wire. Decoded, it took about a
// GiB and many seconds of the only thread (28 MB took 70 s and 4 GiB), to
// be refused for its signature.
const variantsOfOneByte = (count: number) => ({ unitHex: '01790007', count });
// a{sv} entries {"abc": <uint32 7>}, 16 bytes each.
const optionsOfOneKey = (count: number) => ({ unitHex: '030000006162630001750000' + '07000000', count, align: 8 });

const hugeCall = test.macro({
  async exec(t, message: Omit<RawMessage, 'label'>, expected: { name: string; message: RegExp }) {
    const pid = stack.daemon.pid;
    const peakBefore = peakRss();
    const replies = await sendRawMessages(alice, stack.address, [{ label: 'huge', ...message }]);
    t.like(replies, { huge: { type: 'error', name: expected.name }, ping: { type: 'return' } }, JSON.stringify(replies));
    const reply = replies.huge;
    if (reply?.type === 'error') t.regex(reply.message, expected.message);
    const grown = peakRss() - peakBefore;
    t.true(grown < 64 * MiB, `the daemon's peak memory grew by ${Math.round(grown / MiB)} MiB for one call`);
    t.is(stack.daemon.pid, pid);
  },
  title: (what: string | undefined) => `${what}: answered from the header, the body never decoded`,
});

rootSerial(
  'an 8 MiB call of a signature the member does not take',
  hugeCall,
  { interface: MANAGER_INTERFACE, member: 'ListMounts', signature: 'av', bigArray: variantsOfOneByte(2_000_000) },
  { name: 'org.freedesktop.DBus.Error.InvalidArgs', message: /^ListMounts takes signature 'a\{sv\}', got 'av'$/ },
);
rootSerial(
  'an 8 MiB call of the right signature',
  hugeCall,
  { interface: MANAGER_INTERFACE, member: 'ListMounts', signature: 'a{sv}', bigArray: optionsOfOneKey(500_000) },
  { name: 'org.freedesktop.DBus.Error.InvalidArgs', message: /^the arguments of ListMounts take 8000008 bytes; nsmountd reads at most 65536$/ },
);
rootSerial(
  'an 8 MiB call of an unknown member',
  hugeCall,
  { interface: MANAGER_INTERFACE, member: 'Nope', signature: 'av', bigArray: variantsOfOneByte(2_000_000) },
  { name: 'org.freedesktop.DBus.Error.UnknownMethod', message: /^no method Nope on interface org\.nsmount\.NsMount1\.Manager with signature 'av'$/ },
);

// Messages the bus lets through that no reply answers; the daemon must go on.
const unanswered = test.macro({
  async exec(t, messages: Array<Omit<RawMessage, 'label'>>) {
    const pid = stack.daemon.pid;
    const replies = await sendRawMessages(alice, stack.address, messages.map((m, i) => ({ label: `m${i}`, ...m })));
    t.deepEqual(replies, { ping: { type: 'return' } });
    t.is(stack.daemon.pid, pid);
  },
  title: (what: string | undefined) => `after ${what}, the daemon still answers`,
});

const NO_REPLY_EXPECTED = 1;
rootTest('calls flagged NO_REPLY_EXPECTED', unanswered, [
  { interface: MANAGER_INTERFACE, member: 'Nope', flags: NO_REPLY_EXPECTED },
  { interface: MANAGER_INTERFACE, member: 'ListMounts', signature: 's', body: ['x'], flags: NO_REPLY_EXPECTED },
  { interface: MANAGER_INTERFACE, member: 'Mount', signature: 's', body: ['x'], fds: 3, flags: NO_REPLY_EXPECTED },
  { interface: MANAGER_INTERFACE, member: 'ListMounts', signature: 'a{sv}', body: [{ Fd: ['h', 0] }], flags: NO_REPLY_EXPECTED },
]);
rootTest('signals addressed to the daemon', unanswered, [
  { type: 4, path: '/org/example', interface: 'org.example.Sig', member: 'Boom' },
  { type: 4, path: '/org/example', interface: 'org.example.Sig', member: 'Boom', signature: 'v', body: [['a{sv}', { x: ['v', ['ay', [1, 2]]] }]] },
  { type: 4, path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'NameOwnerChanged', signature: 's', body: [':1.1'] },
  { type: 4, path: '/org/example', interface: 'org.example.Sig', member: 'Boom', signature: 'h', body: [0] },
  { type: 4, endian: 'B', path: '/org/example', interface: 'org.example.Sig', member: 'Boom', signature: 'axd', body: [[-1, 2 ** 40], 1.5] },
  { type: 4, path: '/org/example', interface: 'org.example.Sig', member: 'Big', signature: 'av', bigArray: variantsOfOneByte(2_000_000) },
]);
rootTest('unknown header fields', unanswered, [
  { interface: 'org.freedesktop.DBus.Peer', member: 'Ping', flags: NO_REPLY_EXPECTED, extraFields: [[200, 's', 'x'], [77, 'as', ['a', 'b']]] },
]);
rootTest('32 nested structs and 32 nested arrays', unanswered, [
  { interface: MANAGER_INTERFACE, member: 'ListMounts', signature: '('.repeat(32) + 'i' + ')'.repeat(32), body: [nested(32)], flags: NO_REPLY_EXPECTED },
  { type: 4, path: '/org/example', interface: 'org.example.Sig', member: 'Deep', signature: 'a'.repeat(32) + 'i', body: [[]] },
]);

function nested(depth: number): unknown {
  return depth === 0 ? 7 : [nested(depth - 1)];
}
