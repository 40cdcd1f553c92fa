// A Manager change signal of signature (ut), marshalled once per signal
// name by dbus-next itself and then only filled in: the serial and the
// two body values are all that differ between two such messages. dbus-next
// builds and parses the signature and every header field anew for each
// message (~28 us of CPU per signal here, measured), and an
// AllocateUserNamespace sends one to three of them.
import dbus from 'dbus-next';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { marshallMessage } = require('dbus-next/lib/marshall-compat') as { marshallMessage: (msg: dbus.Message) => [Buffer, number[]] };

/** Where the serial sits in a message's fixed header (byte 8, little-endian, as the template says). */
const SERIAL_OFFSET = 8;
/** The body of (ut): a uint32, 4 bytes of padding to the uint64's 8-byte alignment, the uint64. */
const BODY_BYTES = 16;
const UINT64_OFFSET = 8;

export class SignalTemplate {
  private readonly bytes: Buffer;
  private readonly bodyOffset: number;

  constructor(path: string, iface: string, member: string) {
    const msg = dbus.Message.newSignal(path, iface, member, 'ut', [0, 0n]);
    msg.serial = 1;
    const [bytes] = marshallMessage(msg);
    if (bytes[0] !== 'l'.charCodeAt(0) || bytes.readUInt32LE(4) !== BODY_BYTES) throw new Error('unexpected signal layout from dbus-next');
    this.bytes = bytes;
    this.bodyOffset = bytes.length - BODY_BYTES;
  }

  /** The whole message, as dbus-next would marshal it with this serial and body. */
  fill(serial: number, ownerUid: number, id: bigint): Buffer {
    const out = Buffer.allocUnsafe(this.bytes.length);
    this.bytes.copy(out);
    out.writeUInt32LE(serial, SERIAL_OFFSET);
    out.writeUInt32LE(ownerUid, this.bodyOffset);
    out.writeBigUInt64LE(id, this.bodyOffset + UINT64_OFFSET);
    return out;
  }
}
