// The bus accepts a call whose 'h' argument names an fd that was never
// sent (it does not check indices), but dbus-next cannot read its body.
// Such a call used to vanish inside the fd-aware reader: no reply, so the
// caller waited out its timeout, and no log line. The calls have the
// member's own signature: any other is refused from the header, unread.
import test from 'ava';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { rawCallAs } from '../helpers/raw-call';
import { alice } from '../helpers/users';
import { MANAGER_INTERFACE, SERVICE_NAME, SERVICE_PATH } from '../helpers/paths';

const stack = useTestStack();

// 'ha{sv}': fd index 0, then an empty dictionary.
const FD_INDEX_0_NO_OPTIONS = '00000000' + '00000000';
// 'a{sv}': {"Fd": <h 0>}.
const OPTION_FD_INDEX_0 = '10000000' + '00000000' + '02000000' + '466400' + '016800' + '0000' + '00000000';

const unreadable = test.macro({
  async exec(t, iface: string, member: string, signature: string, bodyHex: string) {
    const reply = await rawCallAs(alice, {
      address: stack.address,
      destination: SERVICE_NAME,
      path: SERVICE_PATH,
      interface: iface,
      member,
      signature,
      bodyHex,
    });
    t.deepEqual(reply, { type: 'error', name: 'org.nsmount.NsMount1.Error.System', message: 'internal error; see the nsmountd log' });
    const logged = stack.daemon.logs.filter((line) => line.includes('No FDs available') && line.includes(`"method":"${member}"`));
    t.true(logged.length > 0, stack.daemon.logs.slice(-20).join('\n'));
  },
  title: (_, iface, member) => `an unreadable ${iface}.${member} call is answered System and logged`,
});

rootTest(unreadable, MANAGER_INTERFACE, 'Mount', 'ha{sv}', FD_INDEX_0_NO_OPTIONS);
rootTest(unreadable, MANAGER_INTERFACE, 'ListMounts', 'a{sv}', OPTION_FD_INDEX_0);

rootTest('the daemon goes on answering after an unreadable call', async (t) => {
  const reply = await rawCallAs(alice, {
    address: stack.address,
    destination: SERVICE_NAME,
    path: SERVICE_PATH,
    interface: 'org.freedesktop.DBus.Peer',
    member: 'Ping',
    signature: '',
    bodyHex: '',
  });
  t.deepEqual(reply, { type: 'return' });
});
