// A key sent twice in an a{sv} is refused, naming the key: dbus-next would
// keep only the last value, and which one the caller meant is not ours to
// guess. Each call is written byte by byte by a real unprivileged peer,
// since no D-Bus library sends a dict with a key twice.
import test from 'ava';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { sendRawMessages, type RawMessage } from '../helpers/raw-peer';
import { alice } from '../helpers/users';
import { MANAGER_INTERFACE } from '../helpers/paths';
import { callAs } from '../helpers/call';
import { checkDictKeysUnique, DuplicateDictKey } from '../../src/bus/dict-keys';

const stack = useTestStack();
const INVALID_ARGUMENT = 'org.nsmount.NsMount1.Error.InvalidArgument';

interface DictCase {
  what: string;
  message: Omit<RawMessage, 'label'>;
  /** How the error message must start. */
  starts: string;
}

const refused = test.macro({
  async exec(t, c: DictCase) {
    const replies = await sendRawMessages(alice, stack.address, [{ label: 'call', interface: MANAGER_INTERFACE, ...c.message }]);
    const reply = replies.call;
    if (!reply || reply.type !== 'error') return t.fail(`expected an error, got ${JSON.stringify(replies)}`);
    t.is(reply.name, INVALID_ARGUMENT);
    t.true(reply.message.startsWith(c.starts), reply.message);
    t.deepEqual(replies.ping, { type: 'return' }, 'the daemon answers Ping afterwards');
  },
  title: (_provided, c: DictCase) => c.what,
});

const cases: DictCase[] = [
  {
    what: 'AllocateUserNamespace with an option key given twice: InvalidArgument naming it, nothing allocated',
    message: { member: 'AllocateUserNamespace', signature: 'sua{sv}', body: ['twice', 65536, [['Foo', ['b', true]], ['Foo', ['b', false]]]] },
    starts: 'options.Foo: given more than once',
  },
  {
    what: 'ListUserNamespaces with a key given twice: InvalidArgument naming it',
    message: { member: 'ListUserNamespaces', signature: 'a{sv}', body: [[['Bar', ['s', 'a']], ['Baz', ['s', 'b']], ['Bar', ['s', 'a']]]] },
    starts: 'options.Bar: given more than once',
  },
  {
    what: 'distinct keys are judged one by one as before: the first unknown key is named',
    message: { member: 'ListUserNamespaces', signature: 'a{sv}', body: [[['Bar', ['s', 'a']], ['Baz', ['s', 'b']]]] },
    starts: 'options.Bar: unknown option key',
  },
];
for (const c of cases) rootTest(refused, c);

rootTest('the refused AllocateUserNamespace left no namespace behind', async (t) => {
  const replies = await sendRawMessages(alice, stack.address, [
    { label: 'twice', interface: MANAGER_INTERFACE, member: 'AllocateUserNamespace', signature: 'sua{sv}', body: ['twice-left', 65536, [['X', ['b', true]], ['X', ['b', true]]]] },
    { label: 'list', interface: MANAGER_INTERFACE, member: 'ListUserNamespaces', signature: 'a{sv}', body: [{}] },
  ]);
  t.like(replies.twice, { type: 'error', name: INVALID_ARGUMENT });
  t.deepEqual(replies.list, { type: 'return' });
  const all = await callAs('root', stack.address, 'ListUserNamespaces', 'a{sv}', [{}]);
  if (!all.ok) return t.fail(all.message);
  t.false((all.body[0] as Array<[string]>).some(([name]) => name === 'twice-left'));
});

test('the check reads only top-level dicts, and only when the signature has one', (t) => {
  t.notThrows(() => checkDictKeysUnique('su', ['a', 1]));
  t.notThrows(() => checkDictKeysUnique('a{sv}', [[['a', 1], ['b', 2]]]));
  const err = t.throws(() => checkDictKeysUnique('sua{sv}', ['n', 1, [['a', 1], ['a', 2]]]), { instanceOf: DuplicateDictKey });
  t.is(err?.argIndex, 2);
  t.is(err?.key, 'a');
});
