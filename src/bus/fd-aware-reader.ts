// dbus-next hands every fd queued on the socket to whichever message it is
// parsing at the moment, so under load a message can take the fds of the
// next one, and fds the body never references are simply lost. This reader
// replaces dbus-next's stream unmarshaller with one that takes exactly the
// UNIX_FDS count named in each message header, marks every fd
// close-on-exec at once, and records the fds per message so the dispatcher
// can close all of them on every path.
import { setCloexec, closeQuietly } from '../native/fd';
import { checkDictKeysUnique } from './dict-keys';
import { readHeaderFields } from './header-fields';
import { signatureTrees, type SignatureTree } from './signature-trees';
import { toMessage } from './incoming-message';
import type { EventEmitter } from 'node:events';

/* eslint-disable @typescript-eslint/no-require-imports */
const dbusMessage = require('dbus-next/lib/message');
const { DBusBuffer } = { DBusBuffer: require('dbus-next/lib/dbus-buffer') };
const headerSignature = require('dbus-next/lib/header-signature.json');
const constants = require('dbus-next/lib/constants');

const LITTLE_ENDIAN = 108; // 'l'
const METHOD_CALL = 1;

interface DBusBufferInternals {
  pos: number;
  fds: number[] | null;
  align(power: number): void;
  readArray(elementTree: unknown, length: number): unknown[];
  readStruct(trees: readonly SignatureTree[]): unknown[];
  readSimpleType(type: string): unknown;
  readVariant(this: DBusBufferInternals): [SignatureTree[], unknown[]];
}

/** dbus-next's DBusBuffer.readVariant, with the variant's signature parsed once per signature, not per value. */
function readVariantCached(this: DBusBufferInternals): [SignatureTree[], unknown[]] {
  const tree = signatureTrees(this.readSimpleType('g') as string) as SignatureTree[];
  return [tree, this.readStruct(tree)];
}

interface FdStream {
  read(size?: number, fdCount?: number | null): Buffer | { data: Buffer | null; fds: number[] } | null;
  on(event: 'readable', listener: () => void): void;
}

/**
 * A message that could not be handed on, or whose handling threw inside
 * dbus-next: `delivered` says whether it reached the listeners (which may
 * have answered it already). `message` holds the header fields read so far.
 */
export type UndeliveredHandler = (message: Record<string, unknown>, err: unknown, how: { delivered: boolean }) => void;

const undeliveredHandlers = new WeakMap<object, UndeliveredHandler>();

/**
 * Decides from a message's header alone whether its body is worth decoding.
 * Decoding runs on the only thread and a peer chooses the body (up to the
 * bus's 32 MiB): one array of variants took over a minute and 4 GiB, so a
 * body nobody will read must never be decoded. A message whose body is
 * skipped goes to `unread` with its header fields, no body, and its fds.
 */
export interface BodyScreen {
  wantsBody(header: Record<string, unknown>, bodyLength: number): boolean;
  /** Gets the message's fds, to close. */
  unread(header: Record<string, unknown>, bodyLength: number, fds: number[]): void;
}

const bodyScreens = new WeakMap<object, BodyScreen>();

/** Which bodies are decoded on `stream`; without a screen, all of them. */
export function screenBodies(stream: object, screen: BodyScreen): void {
  bodyScreens.set(stream, screen);
}

/** Who hears of messages on `stream` that the reader could not deliver. */
export function onUndelivered(stream: object, handler: UndeliveredHandler): void {
  undeliveredHandlers.set(stream, handler);
}

const connections = new WeakMap<object, EventEmitter>();

/**
 * Messages read from `stream` go straight to dbus-next's `connection` as
 * Messages made by toMessage, which is what dbus-next's own hand-over does
 * (lib/connection.js), minus the checks of names already found valid.
 */
export function deliverTo(stream: object, connection: EventEmitter): void {
  connections.set(stream, connection);
}

/** dbus-next's hand-over of a read message to its connection (lib/connection.js), with toMessage. */
function emitMessage(connection: EventEmitter, raw: Record<string, unknown>): void {
  let message: unknown;
  try {
    message = toMessage(raw);
  } catch (err) {
    connection.emit('error', err, `There was an error receiving a message (this is probably a bug in dbus-next): ${String(raw)}`);
    return;
  }
  connection.emit('message', message);
}

/** fds taken for the message currently being delivered; claimed by `claimDeliveredFds`. */
let deliveringFds: number[] = [];

/**
 * Called synchronously from a MessageBus 'message' listener: the fds of the
 * message being emitted right now. Ownership passes to the caller.
 */
export function claimDeliveredFds(): number[] {
  const fds = deliveringFds;
  deliveringFds = [];
  return fds;
}

function takeFds(stream: FdStream, count: number): number[] {
  if (count === 0) return [];
  const result = stream.read(0, count);
  if (result && !Buffer.isBuffer(result) && Array.isArray(result.fds)) return result.fds;
  return [];
}

export function unmarshalMessages(stream: FdStream, onMessage: (message: Record<string, unknown>) => void, opts: unknown): void {
  let header: Buffer | null = null;
  let endian = LITTLE_ENDIAN;
  let fieldsLength = 0;
  let fieldsAndBodyLength = 0;
  let bodyLength = 0;

  stream.on('readable', () => {
    for (;;) {
      if (header === null) {
        const chunk = stream.read(16);
        if (!chunk) return;
        header = Buffer.isBuffer(chunk) ? chunk : (chunk.data as Buffer);
        endian = header.readUInt8(0);
        fieldsLength = endian === LITTLE_ENDIAN ? header.readUInt32LE(12) : header.readUInt32BE(12);
        bodyLength = endian === LITTLE_ENDIAN ? header.readUInt32LE(4) : header.readUInt32BE(4);
        fieldsAndBodyLength = (((fieldsLength + 7) >> 3) << 3) + bodyLength;
        continue;
      }
      const chunk = stream.read(fieldsAndBodyLength);
      if (!chunk) return;
      const data = Buffer.isBuffer(chunk) ? chunk : (chunk.data as Buffer);
      const fixedHeader = header;
      header = null;
      deliver(stream, fixedHeader, data, onMessage, opts);
    }
  });

  function deliver(
    stream: FdStream,
    fixedHeader: Buffer,
    data: Buffer,
    onMessage: (message: Record<string, unknown>) => void,
    opts: unknown,
  ): void {
    let fds: number[] = [];
    let message: Record<string, unknown> = {};
    let delivered = false;
    try {
      let fieldsEnd: number;
      const direct = readHeaderFields(data, endian, fieldsLength);
      if (direct) {
        message = direct.fields;
        fieldsEnd = direct.end;
      } else {
        const buffer = new DBusBuffer(data, 0, endian, null, opts) as DBusBufferInternals;
        buffer.readVariant = readVariantCached;
        const fields = buffer.readArray(headerSignature[0].child[0], fieldsLength) as Array<[number, [unknown, [unknown]]]>;
        for (const [code, value] of fields) message[constants.headerTypeName[code]] = value[1][0];
        fieldsEnd = buffer.pos;
      }
      fds = takeFds(stream, message.unixFd === undefined ? 0 : Number(message.unixFd));
      for (const fd of fds) setCloexec(fd);
      message.serial = endian === LITTLE_ENDIAN ? fixedHeader.readUInt32LE(8) : fixedHeader.readUInt32BE(8);
      message.type = fixedHeader[1];
      message.flags = fixedHeader[2];
      const screen = bodyScreens.get(stream);
      if (screen && !screen.wantsBody(message, bodyLength)) {
        delivered = true;
        screen.unread(message, bodyLength, fds.splice(0));
        return;
      }
      if (bodyLength > 0 && message.signature) {
        // The body continues where the header fields end; its 'h' values
        // index the fds, known only now that the fields were read.
        const buffer = new DBusBuffer(data, 0, endian, fds, opts) as DBusBufferInternals;
        buffer.readVariant = readVariantCached;
        buffer.pos = fieldsEnd;
        buffer.align(3);
        message.body = buffer.readStruct(signatureTrees(message.signature as string));
        if (message.type === METHOD_CALL) checkDictKeysUnique(message.signature as string, message.body as unknown[]);
      }
      deliveringFds = fds;
      fds = [];
      delivered = true;
      const connection = connections.get(stream);
      if (connection) emitMessage(connection, message);
      else onMessage(message);
    } catch (err) {
      // The bus validates every message it routes, yet dbus-next cannot
      // read everything the bus accepts (an 'h' naming an fd that was not
      // sent): the caller must still get an answer, and the log a line.
      undeliveredHandlers.get(stream)?.(message, err, { delivered });
    } finally {
      for (const fd of fds) closeQuietly(fd);
      for (const fd of claimDeliveredFds()) closeQuietly(fd);
    }
  }
}

let installed = false;

/** Must run before the first connection is created. */
export function installFdAwareReader(): void {
  if (installed) return;
  dbusMessage.unmarshalMessages = unmarshalMessages;
  installed = true;
}
