// Every error the daemon sends passes here. The dispatcher answers every
// call itself, but dbus-next still has fallback replies of its own: when a
// 'message' listener or method handler throws, it answers
// com.github.dbus_next.Error with the exception's stack, and its service
// layer answers com.github.dbus_next.ServiceError the same way. A caller
// must never read a stack or an internal message, so such a reply leaves
// as our System error and the original goes to the log.
import dbus from 'dbus-next';
import type { Logger } from 'pino';
import type { MessageBus } from './connection';
import { SystemError } from '../errors';

const ERROR = 3;
const OUR_ERRORS = 'org.nsmount.NsMount1.Error.';
const PROTOCOL_ERRORS = 'org.freedesktop.DBus.Error.';
/** A JavaScript stack frame ("\n    at fn (file:line:col)"). */
const STACK_FRAME = /\n\s+at \S/;
export const INTERNAL_ERROR_TEXT = 'internal error; see the nsmountd log';

function isClean(name: string | undefined, text: unknown): boolean {
  if (!name || !(name.startsWith(OUR_ERRORS) || name.startsWith(PROTOCOL_ERRORS))) return false;
  return typeof text !== 'string' || !STACK_FRAME.test(text);
}

/** Makes every error reply sent on `bus` one of ours or the protocol's, without a stack. */
export function guardErrorReplies(bus: MessageBus, log: Logger): void {
  const send = bus.send.bind(bus);
  bus.send = (msg: dbus.Message): void => {
    if (msg.type !== ERROR || isClean(msg.errorName, msg.body?.[0])) return send(msg);
    log.error({ errorName: msg.errorName, text: msg.body?.[0] }, 'dbus-next answered a call by itself; the caller gets a plain System error instead');
    const known = msg.errorName?.startsWith(PROTOCOL_ERRORS) || msg.errorName?.startsWith(OUR_ERRORS);
    send(
      new dbus.Message({
        type: ERROR,
        replySerial: msg.replySerial,
        destination: msg.destination,
        errorName: known ? msg.errorName : SystemError.dbusName,
        signature: 's',
        body: [INTERNAL_ERROR_TEXT],
      }),
    );
  };
}
