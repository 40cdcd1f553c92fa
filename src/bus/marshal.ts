// Outgoing messages marshalled directly. dbus-next converts each body to
// an intermediate form, parses its signature twice and every variant's
// again, marshals every header field through the same generic code and
// builds the result from many small buffers: ~28 us of CPU for a message
// here, more than the daemon's own work on a Ping. This writes the same
// bytes (the tests compare them with dbus-next's over a table of
// messages) from a cached signature tree. Whatever it is not sure to
// write exactly as dbus-next would (a value of an unexpected kind, an odd
// header) goes to dbus-next's marshaller, which then writes or throws as
// it always did.
import dbus from 'dbus-next';
import { signatureTrees, type SignatureTree } from './signature-trees';

/* eslint-disable @typescript-eslint/no-require-imports */
const { marshallMessage: dbusNextMarshall } = require('dbus-next/lib/marshall-compat') as { marshallMessage: (msg: dbus.Message) => [Buffer, number[]] };
const { MakeSimpleMarshaller } = require('dbus-next/lib/marshallers') as { MakeSimpleMarshaller(type: string): { check(value: unknown): void } };
/* eslint-enable @typescript-eslint/no-require-imports */

const Variant = dbus.Variant;
const LITTLE_ENDIAN = 108; // 'l': dbus-next writes little-endian only
const PROTOCOL_VERSION = 1;
const METHOD_CALL = 1;
const MAX_INT64 = 2n ** 63n - 1n;
// dbus-next refuses -2^63 (lib/constants.js MIN_INT64_STR).
const MIN_INT64 = -(2n ** 63n - 1n);
const MAX_UINT64 = 2n ** 64n - 1n;

const INITIAL_BYTES = 4096;
/** A writer's buffer grown past this for one message is dropped after it. */
const MAX_KEPT_BYTES = 256 * 1024;

/** Strings up to this length are copied by writeShort. */
const SHORT_STRING = 64;

/** Raised inside the writer when dbus-next must handle the message. */
class NotDirect {}
const NOT_DIRECT = new NotDirect();

function decline(): never {
  throw NOT_DIRECT;
}

/** A growing byte buffer reused between messages; padding is written as zeros. */
class Writer {
  buf = Buffer.alloc(INITIAL_BYTES);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  pad(k: number): void {
    const target = (this.pos + k - 1) & ~(k - 1);
    this.ensure(target - this.pos);
    // At most 7 bytes: a loop costs less than a call into buf.fill.
    while (this.pos < target) this.buf[this.pos++] = 0;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.pad(4);
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }

  /** s or o: length, UTF-8 bytes, NUL. */
  string(v: string): void {
    this.pad(4);
    this.ensure(4 + v.length * 3 + 1);
    const len = v.length <= SHORT_STRING ? this.writeShort(v, this.pos + 4) : this.buf.write(v, this.pos + 4, 'utf8');
    this.buf.writeUInt32LE(len, this.pos);
    this.buf[this.pos + 4 + len] = 0;
    this.pos += 4 + len + 1;
  }

  /**
   * Names and short texts, mostly ASCII, copied in a loop, which costs less
   * than a call into buf.write; anything else is written by buf.write.
   */
  private writeShort(v: string, at: number): number {
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) return this.buf.write(v, at, 'utf8');
      this.buf[at + i] = c;
    }
    return v.length;
  }

  /** g: a signature dbus-next accepts, so ASCII. */
  signature(v: string): void {
    this.ensure(v.length + 2);
    this.buf[this.pos] = v.length;
    for (let i = 0; i < v.length; i++) this.buf[this.pos + 1 + i] = v.charCodeAt(i);
    this.buf[this.pos + 1 + v.length] = 0;
    this.pos += v.length + 2;
  }

}

const validSignatures = new Set<string>();
const checkSignature = MakeSimpleMarshaller('g');

/** A 'g' value dbus-next's own check accepts, remembered; anything else declines. */
function knownGoodSignature(v: unknown): string {
  if (typeof v !== 'string') decline();
  if (validSignatures.has(v)) return v;
  try {
    checkSignature.check(v);
  } catch {
    decline();
  }
  if (validSignatures.size < 256) validSignatures.add(v);
  return v;
}

function isInteger(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Math.floor(v) === v && v >= min && v <= max;
}

function plainString(v: unknown): string {
  if (typeof v !== 'string' || v.includes('\0')) decline();
  return v;
}

function int64(v: unknown, min: bigint, max: bigint): bigint {
  if (typeof v !== 'bigint' || v < min || v > max) decline();
  return v;
}

function writeVariant(w: Writer, v: unknown, fds: number[]): void {
  if (v === null || v === undefined || (v as object).constructor !== Variant) decline();
  const signature = knownGoodSignature((v as dbus.Variant).signature);
  const trees = signatureTrees(signature);
  if (trees.length !== 1) decline();
  w.signature(signature);
  writeValue(w, trees[0], (v as dbus.Variant).value, fds);
}

function writeValue(w: Writer, t: SignatureTree, v: unknown, fds: number[]): void {
  switch (t.type) {
    case 'y':
      if (!isInteger(v, 0, 0xff)) decline();
      return w.u8(v);
    case 'b':
      if (!(typeof v === 'boolean' || v === 0 || v === 1)) decline();
      return w.u32(v ? 1 : 0);
    case 'n':
      if (!isInteger(v, -0x8000, 0x7fff)) decline();
      w.pad(2);
      w.ensure(2);
      w.pos = w.buf.writeInt16LE(v, w.pos);
      return;
    case 'q':
      if (!isInteger(v, 0, 0xffff)) decline();
      w.pad(2);
      w.ensure(2);
      w.pos = w.buf.writeUInt16LE(v, w.pos);
      return;
    case 'i':
      if (!isInteger(v, -0x80000000, 0x7fffffff)) decline();
      w.pad(4);
      w.ensure(4);
      w.pos = w.buf.writeInt32LE(v, w.pos);
      return;
    case 'u':
      if (!isInteger(v, 0, 0xffffffff)) decline();
      return w.u32(v);
    case 'h':
      // dbus-next queues the value as an fd and writes its index.
      if (!isInteger(v, 0, 0x7fffffff)) decline();
      return w.u32(fds.push(v) - 1);
    case 'x':
      w.pad(8);
      w.ensure(8);
      w.pos = w.buf.writeBigInt64LE(int64(v, MIN_INT64, MAX_INT64), w.pos);
      return;
    case 't':
      w.pad(8);
      w.ensure(8);
      w.pos = w.buf.writeBigUInt64LE(int64(v, 0n, MAX_UINT64), w.pos);
      return;
    case 'd':
      if (typeof v !== 'number' || !Number.isFinite(v)) decline();
      w.pad(8);
      w.ensure(8);
      // dbus-next writes parseFloat(v), which turns -0 into 0.
      w.pos = w.buf.writeDoubleLE(v === 0 ? 0 : v, w.pos);
      return;
    case 's':
    case 'o':
      return w.string(plainString(v));
    case 'g':
      return w.signature(knownGoodSignature(v));
    case 'v':
      return writeVariant(w, v, fds);
    case '(':
      if (!Array.isArray(v) || v.length !== t.child.length) decline();
      w.pad(8);
      for (let i = 0; i < t.child.length; i++) writeMember(w, t.child[i], v[i], fds);
      return;
    case 'a':
      return writeArray(w, t.child[0], v, fds);
    default:
      decline();
  }
}

/** A value inside a container: dbus-next reads a Variant there as a variant only where the type says 'v'. */
function writeMember(w: Writer, t: SignatureTree, v: unknown, fds: number[]): void {
  if (t.type !== 'v' && v !== null && v !== undefined && (v as object).constructor === Variant) decline();
  writeValue(w, t, v, fds);
}

function writeArray(w: Writer, element: SignatureTree, v: unknown, fds: number[]): void {
  w.u32(0);
  const lengthAt = w.pos - 4;
  if (element.type === 'x' || element.type === 't' || element.type === 'd' || element.type === '{' || element.type === '(') w.pad(8);
  const start = w.pos;
  if (v === null || v === undefined) decline();
  if (element.type === 'y' && (v as object).constructor === Buffer) {
    const bytes = v as Buffer;
    w.ensure(bytes.length);
    bytes.copy(w.buf, w.pos);
    w.pos += bytes.length;
  } else if (element.type === '{') {
    if ((v as object).constructor !== Object) decline();
    const [keyType, valueType] = element.child;
    if ((keyType.type !== 's' && keyType.type !== 'o') || valueType === undefined || element.child.length !== 2) decline();
    const dict = v as Record<string, unknown>;
    for (const key of Object.keys(dict)) {
      w.pad(8);
      w.string(plainString(key));
      writeMember(w, valueType, dict[key], fds);
    }
  } else {
    if (!Array.isArray(v)) decline();
    for (const item of v) writeMember(w, element, item, fds);
  }
  w.buf.writeUInt32LE(w.pos - start, lengthAt);
}

const body = new Writer();
const header = new Writer();

/** Header fields in dbus-next's order (its headerTypeName), with their codes and types. */
const FIELDS: Array<[keyof dbus.Message | 'unixFd', number, 's' | 'o' | 'g' | 'u']> = [
  ['path', 1, 'o'],
  ['interface', 2, 's'],
  ['member', 3, 's'],
  ['errorName', 4, 's'],
  ['replySerial', 5, 'u'],
  ['destination', 6, 's'],
  ['sender', 7, 's'],
  ['signature', 8, 'g'],
  ['unixFd', 9, 'u'],
];

function writeField(code: number, type: 's' | 'o' | 'g' | 'u', value: unknown): void {
  header.pad(8);
  header.u8(code);
  header.signature(type);
  if (type === 'u') {
    if (!isInteger(value, 0, 0xffffffff)) decline();
    header.u32(value);
  } else if (type === 'g') {
    header.signature(knownGoodSignature(value));
  } else {
    header.string(plainString(value));
  }
}

/** The bytes and fds of `msg` exactly as dbus-next's marshallMessage makes them, or undefined. */
export function marshalDirectly(msg: dbus.Message): [Buffer, number[]] | undefined {
  body.pos = 0;
  header.pos = 0;
  try {
    const serial = msg.serial;
    const flags = msg.flags || 0;
    const type = msg.type || METHOD_CALL;
    if (!serial || !isInteger(serial, 1, 0xffffffff) || !isInteger(flags, 0, 0xff) || !isInteger(type, 0, 0xff)) decline();
    // dbus-next sends a stale unixFd of an earlier marshalling when the message has no body.
    if ((msg as { unixFd?: unknown }).unixFd !== undefined) decline();
    // dbus-next's defaults apply to undefined only.
    const signature = msg.signature === undefined ? '' : msg.signature;
    const values = msg.body === undefined ? [] : msg.body;
    const trees = signatureTrees(knownGoodSignature(signature));
    if (!Array.isArray(values) || trees.length !== values.length) decline();
    const fds: number[] = [];
    let unixFd = 0;
    if (signature) {
      for (let i = 0; i < trees.length; i++) {
        if (trees[i].type === 'v') writeVariant(body, values[i], fds);
        else writeMember(body, trees[i], values[i], fds);
      }
      unixFd = fds.length;
    }
    header.u8(LITTLE_ENDIAN);
    header.u8(type);
    header.u8(flags);
    header.u8(PROTOCOL_VERSION);
    header.u32(body.pos);
    header.u32(serial);
    header.u32(0);
    for (const [name, code, fieldType] of FIELDS) {
      const value = name === 'unixFd' ? unixFd : name === 'signature' ? signature : msg[name];
      if (value) writeField(code, fieldType, value);
    }
    header.buf.writeUInt32LE(header.pos - 16, 12);
    header.pad(8);
    const out = Buffer.allocUnsafe(header.pos + body.pos);
    // TypedArray set, not Buffer.copy: no call into C++ for a few dozen bytes.
    out.set(header.buf.subarray(0, header.pos), 0);
    if (body.pos > 0) out.set(body.buf.subarray(0, body.pos), header.pos);
    return [out, fds];
  } catch (err) {
    if (err === NOT_DIRECT) return undefined;
    throw err;
  } finally {
    body.pos = 0;
    header.pos = 0;
    // One big reply must not keep its buffer for the daemon's lifetime.
    if (body.buf.length > MAX_KEPT_BYTES) body.buf = Buffer.alloc(INITIAL_BYTES);
  }
}

/** `msg` marshalled: directly when possible, else by dbus-next (which may throw, as it always did). */
export function marshalMessage(msg: dbus.Message): [Buffer, number[]] {
  return marshalDirectly(msg) ?? dbusNextMarshall(msg);
}
