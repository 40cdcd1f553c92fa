// D-Bus messages written byte by byte, in either byte order and with any
// header fields, for tests of the daemon's own wire reader: dbus-next
// writes only little-endian messages with the fields it knows.

const ALIGN: Record<string, number> = { y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, x: 8, t: 8, d: 8, s: 4, o: 4, g: 1, h: 4, a: 4, '(': 8, '{': 8, v: 1 };

function endOf(sig: string, i: number): number {
  const c = sig[i];
  if (c === 'a') return endOf(sig, i + 1);
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    i += 1;
    while (sig[i] !== close) i = endOf(sig, i);
    return i + 1;
  }
  return i + 1;
}

/** The single complete types of a signature. */
export function splitSignature(sig: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < sig.length; ) {
    const j = endOf(sig, i);
    out.push(sig.slice(i, j));
    i = j;
  }
  return out;
}

/** Values: numbers, bigints for x/t, strings, arrays for structs and arrays, [signature, value] for a variant. */
export class WireWriter {
  private bytes: number[] = [];
  constructor(
    private readonly little: boolean,
    private readonly base = 0,
  ) {}

  get buffer(): Buffer {
    return Buffer.from(this.bytes);
  }

  pad(k: number): void {
    while ((this.base + this.bytes.length) % k !== 0) this.bytes.push(0);
  }

  private number(bytes: number, write: (b: Buffer) => void): void {
    const b = Buffer.alloc(bytes);
    write(b);
    this.bytes.push(...b);
  }

  put(type: string, value: unknown): void {
    const c = type[0];
    this.pad(ALIGN[c]);
    const le = this.little;
    switch (c) {
      case 'y':
        this.bytes.push(value as number);
        return;
      case 'b':
      case 'u':
      case 'h':
        return this.number(4, (b) => (le ? b.writeUInt32LE(Number(value)) : b.writeUInt32BE(Number(value))));
      case 'i':
        return this.number(4, (b) => (le ? b.writeInt32LE(value as number) : b.writeInt32BE(value as number)));
      case 'n':
        return this.number(2, (b) => (le ? b.writeInt16LE(value as number) : b.writeInt16BE(value as number)));
      case 'q':
        return this.number(2, (b) => (le ? b.writeUInt16LE(value as number) : b.writeUInt16BE(value as number)));
      case 'x':
        return this.number(8, (b) => (le ? b.writeBigInt64LE(value as bigint) : b.writeBigInt64BE(value as bigint)));
      case 't':
        return this.number(8, (b) => (le ? b.writeBigUInt64LE(value as bigint) : b.writeBigUInt64BE(value as bigint)));
      case 'd':
        return this.number(8, (b) => (le ? b.writeDoubleLE(value as number) : b.writeDoubleBE(value as number)));
      case 's':
      case 'o': {
        const e = Buffer.from(value as string);
        this.put('u', e.length);
        this.bytes.push(...e, 0);
        return;
      }
      case 'g': {
        const e = Buffer.from(value as string);
        this.bytes.push(e.length, ...e, 0);
        return;
      }
      case 'v': {
        const [sig, v] = value as [string, unknown];
        this.put('g', sig);
        this.put(sig, v);
        return;
      }
      case 'a': {
        this.put('u', 0);
        const at = this.bytes.length - 4;
        this.pad(ALIGN[type[1]]);
        const start = this.bytes.length;
        for (const item of value as unknown[]) this.put(type.slice(1), item);
        const len = Buffer.alloc(4);
        if (le) len.writeUInt32LE(this.bytes.length - start);
        else len.writeUInt32BE(this.bytes.length - start);
        this.bytes.splice(at, 4, ...len);
        return;
      }
      default: {
        const members = splitSignature(type.slice(1, -1));
        members.forEach((t, i) => this.put(t, (value as unknown[])[i]));
      }
    }
  }
}

export interface WireMessage {
  endian: 'l' | 'B';
  type: number;
  flags?: number;
  serial: number;
  /** [code, signature, value], in order. */
  fields: Array<[number, string, unknown]>;
  signature?: string;
  body?: unknown[];
}

/** The whole message; the SIGNATURE field is not added: list it in `fields`. */
export function wireBytes(m: WireMessage): Buffer {
  const little = m.endian === 'l';
  const header = new WireWriter(little, 12);
  header.put('a(yv)', m.fields.map(([code, sig, value]) => [code, [sig, value]]));
  const body = new WireWriter(little);
  splitSignature(m.signature ?? '').forEach((t, i) => body.put(t, m.body![i]));
  const fixed = Buffer.alloc(12);
  fixed.write(m.endian, 0, 'latin1');
  fixed[1] = m.type;
  fixed[2] = m.flags ?? 0;
  fixed[3] = 1;
  const bodyBytes = body.buffer;
  if (little) {
    fixed.writeUInt32LE(bodyBytes.length, 4);
    fixed.writeUInt32LE(m.serial, 8);
  } else {
    fixed.writeUInt32BE(bodyBytes.length, 4);
    fixed.writeUInt32BE(m.serial, 8);
  }
  const head = Buffer.concat([fixed, header.buffer]);
  return Buffer.concat([head, Buffer.alloc((8 - (head.length % 8)) % 8), bodyBytes]);
}
