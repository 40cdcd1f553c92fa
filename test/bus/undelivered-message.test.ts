// The bus accepts a call whose 'h' argument names an fd that was never
// sent (it does not check indices), but dbus-next cannot read its body.
// Such a call used to vanish inside the fd-aware reader: no reply, so the
// caller waited out its timeout, and no log line.
import test from 'ava';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { rawCallAs } from '../helpers/raw-call';
import { alice } from '../helpers/users';
import { MANAGER_INTERFACE, SERVICE_NAME, SERVICE_PATH } from '../helpers/paths';

const stack = useTestStack();

const FD_INDEX_0 = '00000000';

const unreadable = test.macro({
  async exec(t, iface: string, member: string) {
    const reply = await rawCallAs(alice, {
      address: stack.address,
      destination: SERVICE_NAME,
      path: SERVICE_PATH,
      interface: iface,
      member,
      signature: 'h',
      bodyHex: FD_INDEX_0,
    });
    t.deepEqual(reply, { type: 'error', name: 'org.nsmount.NsMount1.Error.System', message: 'internal error; see the nsmountd log' });
    const logged = stack.daemon.logs.filter((line) => line.includes('No FDs available') && line.includes(`"method":"${member}"`));
    t.true(logged.length > 0, stack.daemon.logs.slice(-20).join('\n'));
  },
  title: (_, iface, member) => `an unreadable ${iface}.${member} call is answered System and logged`,
});

rootTest(unreadable, MANAGER_INTERFACE, 'ListMounts');
rootTest(unreadable, 'org.freedesktop.DBus.Peer', 'Ping');

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
