// The header fields of a received message, read directly. dbus-next reads
// them as a generic a(yv): a signature parse per field and nested arrays
// per value, for nine fields whose codes and types the specification
// fixes. A message with anything else in its header (a code this reader
// does not know, a field of an unexpected type, a length that runs past
// the buffer) is left to dbus-next's generic reader, which then gives the
// result it always gave.

/** The one type the specification allows for each code, as its ASCII code. */
const FIELD_TYPES = [0, 0x6f /* o */, 0x73 /* s */, 0x73, 0x73, 0x75 /* u */, 0x73, 0x73, 0x67 /* g */, 0x75];
const LITTLE_ENDIAN = 108; // 'l'

export interface HeaderFields {
  /** Field name → value, named as dbus-next's reader names them (lib/constants.js headerTypeName). */
  fields: Record<string, unknown>;
  /** Where the reader stopped: the body starts at the next multiple of 8. */
  end: number;
}

/**
 * Reads the header fields array whose content starts at `data[0]` (the
 * message's byte 16, so alignment within `data` is the message's) and
 * spans `length` bytes. Undefined when this reader declines the message.
 */
export function readHeaderFields(data: Buffer, endian: number, length: number): HeaderFields | undefined {
  const little = endian === LITTLE_ENDIAN;
  const fields: Record<string, unknown> = {};
  let pos = 0;
  while (pos < length) {
    pos = (pos + 7) & ~7;
    // code, signature length 1, type, NUL: four bytes before any value.
    if (pos + 4 > data.length) return undefined;
    const code = data[pos];
    if (code < 1 || code > 9 || data[pos + 1] !== 1 || data[pos + 2] !== FIELD_TYPES[code] || data[pos + 3] !== 0) return undefined;
    pos += 4;
    const type = FIELD_TYPES[code];
    let value: unknown;
    if (type === 0x67) {
      if (pos + 1 > data.length) return undefined;
      const len = data[pos];
      if (pos + 1 + len + 1 > data.length) return undefined;
      value = len === 0 ? '' : data.toString('utf8', pos + 1, pos + 1 + len);
      pos += 1 + len + 1;
    } else {
      pos = (pos + 3) & ~3;
      if (pos + 4 > data.length) return undefined;
      const word = little ? data.readUInt32LE(pos) : data.readUInt32BE(pos);
      pos += 4;
      if (type === 0x75) {
        value = word;
      } else {
        if (pos + word + 1 > data.length) return undefined;
        value = word === 0 ? '' : data.toString('utf8', pos, pos + word);
        pos += word + 1;
      }
    }
    // Named stores: a store by computed key is slow (megamorphic) here.
    switch (code) {
      case 1:
        fields.path = value;
        break;
      case 2:
        fields.interface = value;
        break;
      case 3:
        fields.member = value;
        break;
      case 4:
        fields.errorName = value;
        break;
      case 5:
        fields.replySerial = value;
        break;
      case 6:
        fields.destination = value;
        break;
      case 7:
        fields.sender = value;
        break;
      case 8:
        fields.signature = value;
        break;
      default:
        fields.unixFd = value;
    }
  }
  return { fields, end: pos };
}
