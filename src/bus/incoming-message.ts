// dbus-next turns every received message into a Message whose constructor
// checks each name in the header with regular expressions and string
// splits: for a Ping that was a tenth of the daemon's CPU, spent on the
// same few names (the daemon's own name, path and interfaces, polkit's,
// the bus's) every time. A name found valid once is remembered, and a
// message whose names are all known valid is built without checking them
// again; any other goes through dbus-next's constructor, which checks (and
// throws) as it always did.
import dbus from 'dbus-next';

/* eslint-disable @typescript-eslint/no-require-imports */
const { messageToJsFmt } = require('dbus-next/lib/marshall-compat') as { messageToJsFmt(raw: Record<string, unknown>): RawMessage };
const validators = require('dbus-next/lib/validators') as Record<'isBusNameValid' | 'isInterfaceNameValid' | 'isObjectPathValid' | 'isMemberNameValid', (name: unknown) => boolean>;
/* eslint-enable @typescript-eslint/no-require-imports */

const METHOD_CALL = 1;
const METHOD_RETURN = 2;
const ERROR = 3;
const SIGNAL = 4;

/** Per kind of name; the daemon meets a handful, a peer may send many, so the sets stop growing. */
export const MAX_REMEMBERED_NAMES = 256;

interface RawMessage {
  type?: number;
  serial?: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  signature?: string;
  body?: unknown[];
  flags?: number;
}

class KnownValid {
  private readonly names = new Set<string>();
  constructor(private readonly isValid: (name: unknown) => boolean) {}

  /** Whether `name` is absent (nothing to check) or valid. */
  ok(name: unknown): boolean {
    if (!name) return true;
    if (this.names.has(name as string)) return true;
    if (!this.isValid(name)) return false;
    // Unique names (":1.42") pass dbus-next's check at once and come and go with their connections.
    if (this.names.size < MAX_REMEMBERED_NAMES && typeof name === 'string' && !name.startsWith(':')) this.names.add(name as string);
    return true;
  }
}

const busNames = new KnownValid(validators.isBusNameValid);
const interfaceNames = new KnownValid(validators.isInterfaceNameValid);
const objectPaths = new KnownValid(validators.isObjectPathValid);
const memberNames = new KnownValid(validators.isMemberNameValid);

/** The fields dbus-next's constructor requires for each message type (lib/message-type.js). */
function hasRequiredFields(m: RawMessage, type: number): boolean {
  switch (type) {
    case METHOD_CALL:
      return m.path !== undefined && m.member !== undefined;
    case SIGNAL:
      return m.path !== undefined && m.member !== undefined && m.interface !== undefined;
    case ERROR:
      return m.errorName !== undefined && m.replySerial !== undefined;
    case METHOD_RETURN:
      return m.replySerial !== undefined;
    default:
      return false;
  }
}

/** What dbus-next's connection makes of a message its reader hands on: `new Message(messageToJsFmt(raw))`. */
export function toMessage(raw: Record<string, unknown>): dbus.Message {
  const m = messageToJsFmt(raw);
  const type = m.type ? m.type : METHOD_CALL;
  const checked =
    busNames.ok(m.destination) &&
    interfaceNames.ok(m.interface) &&
    objectPaths.ok(m.path) &&
    memberNames.ok(m.member) &&
    interfaceNames.ok(m.errorName) &&
    hasRequiredFields(m, type);
  if (!checked) return new dbus.Message(m as never);
  // The constructor's own assignments, in its order, without its checks.
  const message = Object.create(dbus.Message.prototype) as Record<string, unknown>;
  message.type = type;
  message._sent = false;
  message._serial = isNaN(m.serial as number) ? null : m.serial;
  message.path = m.path;
  message.interface = m.interface;
  message.member = m.member;
  message.errorName = m.errorName;
  message.replySerial = m.replySerial;
  message.destination = m.destination;
  message.sender = m.sender;
  message.signature = m.signature || '';
  message.body = m.body || [];
  message.flags = m.flags || 0;
  return message as unknown as dbus.Message;
}
