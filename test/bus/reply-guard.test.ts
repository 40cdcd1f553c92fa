// dbus-next answers some calls by itself, with the exception's stack in
// the text: a method handler or 'message' listener that throws
// (com.github.dbus_next.Error), a method of an exported interface that
// throws (com.github.dbus_next.ServiceError). The daemon's dispatcher
// should never let that happen; should it happen anyway, the guard sends
// our System error instead and logs the original. A service on the real
// bus, with the guard, owns the daemon's name and throws on purpose.
import test from 'ava';
import { Writable } from 'node:stream';
import dbus from 'dbus-next';
import pino from 'pino';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { sendRawMessages } from '../helpers/raw-peer';
import { alice } from '../helpers/users';
import { SERVICE_NAME, SERVICE_PATH } from '../helpers/paths';
import { connectBus, safeDisconnect, type MessageBus } from '../../src/bus/connection';
import { guardErrorReplies } from '../../src/bus/reply-guard';

const stack = useTestStack({ daemon: false });
const THROWING = 'org.nsmount.Test.Throwing';
let service: MessageBus | undefined;
const logLines: string[] = [];

class ThrowingInterface extends dbus.interface.Interface {
  Boom(): void {
    throw new TypeError('a bug deep inside');
  }
}
ThrowingInterface.configureMembers({ methods: { Boom: { inSignature: '', outSignature: '' } } });

test.before(async () => {
  if (rootSkipReason) return;
  service = await connectBus({ address: stack.address });
  guardErrorReplies(service, pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) })));
  // A low-level handler that throws, as a dispatcher bug would.
  service.addMethodHandler((msg: dbus.Message) => {
    if (msg.member === 'Throw') throw new TypeError('a bug in a handler');
    return false;
  });
  service.export('/org/nsmount/Test', new ThrowingInterface(THROWING));
  if ((await service.requestName(SERVICE_NAME, dbus.NameFlag.DO_NOT_QUEUE)) !== dbus.RequestNameReply.PRIMARY_OWNER) {
    throw new Error(`could not own ${SERVICE_NAME}`);
  }
});
test.after.always(() => {
  if (service) safeDisconnect(service);
});

const fallback = test.macro({
  async exec(t, path: string, iface: string, member: string) {
    const from = logLines.length;
    const replies = await sendRawMessages(alice, stack.address, [{ label: 'call', path, interface: iface, member }]);
    t.deepEqual(replies.call, { type: 'error', name: 'org.nsmount.NsMount1.Error.System', message: 'internal error; see the nsmountd log' });
    const logged = logLines.slice(from).join('');
    t.regex(logged, /com\.github\.dbus_next\.\w*Error/, 'the original reply is logged');
    t.regex(logged, /\\n\s+at /, 'with its stack');
  },
  title: (_provided, _path, iface, member) => `dbus-next's own reply to ${iface}.${member} leaves as a plain System error`,
});

rootTest(fallback, SERVICE_PATH, 'org.nsmount.Test.Handler', 'Throw');
rootTest(fallback, '/org/nsmount/Test', THROWING, 'Boom');
