// Whatever a peer calls, the answer is a clean error: a name of the
// protocol (org.freedesktop.DBus.Error.*) or of the contract
// (org.nsmount.NsMount1.Error.*), and a message without a stack frame or a
// path into the daemon's code. Each call comes from a real unprivileged
// peer on the real bus, written byte by byte.
import test from 'ava';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { sendRawMessages, type RawMessage } from '../helpers/raw-peer';
import { alice } from '../helpers/users';
import { MANAGER_INTERFACE } from '../helpers/paths';

const stack = useTestStack();

const PROTOCOL = 'org.freedesktop.DBus.Error.';
const OURS = 'org.nsmount.NsMount1.Error.';
const STACK_LIKE = [/\n\s+at /, /\/dist\//, /node_modules/, /\.js:\d+/, /com\.github\.dbus_next/];

interface OddCall {
  what: string;
  message: Omit<RawMessage, 'label'>;
  /** The error name the call must get. */
  name: string;
}

const oddCall = test.macro({
  async exec(t, c: OddCall) {
    const replies = await sendRawMessages(alice, stack.address, [{ label: 'odd', ...c.message }]);
    const reply = replies.odd;
    if (!reply || reply.type !== 'error') return t.fail(`expected an error, got ${JSON.stringify(replies)}`);
    t.is(reply.name, c.name);
    t.true(reply.name.startsWith(PROTOCOL) || reply.name.startsWith(OURS), reply.name);
    for (const pattern of STACK_LIKE) t.notRegex(reply.message, pattern);
    t.true(reply.message.length > 0 && !reply.message.includes('\n'), JSON.stringify(reply.message));
    t.deepEqual(replies.ping, { type: 'return' }, 'the daemon answers Ping afterwards');
  },
  title: (_provided, c: OddCall) => `${c.what}: a clean ${c.name.split('.').pop()} error`,
});

const PROPS = 'org.freedesktop.DBus.Properties';
const cases: OddCall[] = [
  { what: 'an unknown method', message: { interface: MANAGER_INTERFACE, member: 'Nope' }, name: `${PROTOCOL}UnknownMethod` },
  { what: 'an unknown interface', message: { interface: 'org.example.Nope', member: 'Nope' }, name: `${PROTOCOL}UnknownInterface` },
  { what: 'an unknown member without interface', message: { member: 'Nope' }, name: `${PROTOCOL}UnknownMethod` },
  { what: 'a method on a path nsmountd does not export', message: { path: '/no/such', interface: MANAGER_INTERFACE, member: 'ListMounts', signature: 'a{sv}', body: [{}] }, name: `${PROTOCOL}UnknownObject` },
  { what: 'Introspect of an unknown path', message: { path: '/no/such', interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect' }, name: `${PROTOCOL}UnknownObject` },
  { what: 'Introspect with arguments', message: { interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect', signature: 'i', body: [1] }, name: `${PROTOCOL}InvalidArgs` },
  { what: 'a Manager method with a wrong signature', message: { interface: MANAGER_INTERFACE, member: 'ListMounts', signature: 's', body: ['x'] }, name: `${PROTOCOL}InvalidArgs` },
  { what: 'a Manager method with 32 nested arrays', message: { interface: MANAGER_INTERFACE, member: 'ListMounts', signature: 'a'.repeat(32) + 'i', body: [[]] }, name: `${PROTOCOL}InvalidArgs` },
  { what: 'an option of an unusual type', message: { interface: MANAGER_INTERFACE, member: 'ListMounts', signature: 'a{sv}', body: [{ Deep: ['v', ['v', ['(yd)', [1, 1.5]]]] }] }, name: `${OURS}InvalidArgument` },
  { what: "an option 'h' naming an fd never sent", message: { interface: MANAGER_INTERFACE, member: 'ListMounts', signature: 'a{sv}', body: [{ Fd: ['h', 0] }] }, name: `${OURS}System` },
  { what: 'Properties.Get with a wrong signature', message: { interface: PROPS, member: 'Get', signature: 's', body: [MANAGER_INTERFACE] }, name: `${PROTOCOL}InvalidArgs` },
  { what: 'Properties.Get of an unknown property', message: { interface: PROPS, member: 'Get', signature: 'ss', body: [MANAGER_INTERFACE, 'Nope'] }, name: `${PROTOCOL}UnknownProperty` },
  { what: 'Properties.GetAll of another interface', message: { interface: PROPS, member: 'GetAll', signature: 's', body: ['org.example.Nope'] }, name: `${PROTOCOL}UnknownInterface` },
  { what: 'Properties.Set', message: { interface: PROPS, member: 'Set', signature: 'ssv', body: [MANAGER_INTERFACE, 'Version', ['s', 'x']] }, name: `${PROTOCOL}PropertyReadOnly` },
  { what: 'an unknown Properties member', message: { interface: PROPS, member: 'Frob' }, name: `${PROTOCOL}UnknownMethod` },
  { what: 'Ping with arguments', message: { interface: 'org.freedesktop.DBus.Peer', member: 'Ping', signature: 's', body: ['x'] }, name: `${PROTOCOL}InvalidArgs` },
  { what: 'an unknown Peer member', message: { interface: 'org.freedesktop.DBus.Peer', member: 'Zap' }, name: `${PROTOCOL}UnknownMethod` },
  { what: 'a big-endian call with a bad option', message: { endian: 'B', interface: MANAGER_INTERFACE, member: 'ListMounts', signature: 'a{sv}', body: [{ Big: ['t', 1] }] }, name: `${OURS}InvalidArgument` },
  {
    what: 'a call whose arguments are larger than any real call',
    message: { interface: MANAGER_INTERFACE, member: 'AllocateUserNamespace', signature: 'sua{sv}', body: ['x'.repeat(70_000), 0, {}] },
    name: `${PROTOCOL}InvalidArgs`,
  },
];

for (const c of cases) rootTest(oddCall, c);
