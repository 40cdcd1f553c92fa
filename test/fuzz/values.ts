// Random D-Bus types and values in the JSON form the call client already
// speaks (test/clients/dbus-json.ts): {"$v": [sig, value]} for variants,
// {"$bigint": "n"} for 64-bit integers and {"$fd": kind} for fds. Every value
// is valid D-Bus: the bus would drop an invalid message (and the client's
// connection) before the daemon ever saw it, which tests nothing.
import { Prng } from './prng';
import { ALL_FD_KINDS, type FdKind } from './fd-kinds';

const BASIC = ['y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 's', 'o', 'g', 'h'] as const;
/** dbus-next writes dictionaries from JS objects, so only string-like keys can be non-empty. */
const STRING_KEYS = ['s', 'o', 'g'];
/** The bus's own nesting limit is 32; deep enough to matter, far from refusal. */
const MAX_DEPTH = 6;
/** dbus-daemon's max_message_unix_fds on the system bus is 16; going over drops the connection. */
export const MAX_FDS_PER_CALL = 12;

export interface GenContext {
  rng: Prng;
  /** Bytes left for strings and arrays in this call, to keep messages well under the bus limit. */
  budget: number;
  /** Chooses an fd kind for an untyped 'h' position. */
  fdKind?: () => FdKind;
}

export const INTERESTING_STRINGS: readonly string[] = [
  '',
  'a',
  '.',
  '..',
  '../x',
  '../../../../etc/shadow',
  '/',
  '/etc/passwd',
  'a/b',
  './',
  ' ',
  '-',
  '--help',
  '.hidden',
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(255),
  'x'.repeat(256),
  'é'.repeat(128),
  'é'.repeat(127) + 'e',
  '日本語の名前',
  '\u202eevil',
  '\ud83d\ude00',
  '\ufeffbom',
  '\uffff',
  'tab\there',
  'new\nline',
  '\x01\x02\x7f',
  '%s%s%n%x',
  '${HOME}',
  '$(id)',
  "'; DROP TABLE",
  '\\',
  'foreign',
  'owner',
  'identity',
  'auto',
  'FOREIGN',
  'root',
  'usr',
  'home',
  'srv',
  'var',
  'tmp',
  'esp',
  'xbootldr',
  'data',
  'swap',
  'acl',
  'noacl,user_xattr',
  'commit=5',
  'commit=99999999999999999999',
  'commit=-1',
  'data=journal',
  'errors=panic',
  'errors=continue',
  'suid',
  'dev',
  'exec',
  'ro,rw',
  'context=system_u:object_r:tmp_t',
  'noatime,,relatime',
  ',',
  '=',
  'org.nsmount.NsMount1.Manager',
  'org.freedesktop.DBus.Properties',
  'Version',
  'Features',
  'ForeignUidBase',
];

const OBJECT_PATHS = ['/', '/org/nsmount/NsMount1', '/org/nsmount', '/a/b_c/D9', '/org/nsmount/NsMount1/x'];
const SIGNATURES = ['', 's', 'a{sv}', 'h', '(ssssttbh)', 'aaaay', 'v', 'sua{sv}'];

export function randomString(ctx: GenContext): string {
  const { rng } = ctx;
  const kind = rng.weighted<() => string>([
    [6, () => rng.pick(INTERESTING_STRINGS)],
    [2, () => `n${rng.below(8)}`],
    [2, () => randomChars(rng, rng.int(1, 40))],
    [1, () => {
      // Huge, within budget: names and paths have length limits to hit.
      const length = Math.min(ctx.budget, rng.pick([4096, 65536, 300000]));
      return rng.pick(['a', 'é', '/', '.']).repeat(Math.max(0, Math.floor(length / 2)));
    }],
  ]);
  const s = kind();
  ctx.budget -= Buffer.byteLength(s);
  return s;
}

function randomChars(rng: Prng, n: number): string {
  const pools = ['abcXYZ09._-', '/.', ' \t\r\n', 'éü日本\u0301', '\u{1f600}\u{10ffff}', '\x01\x1b\x7f'];
  let s = '';
  for (let i = 0; i < n; i++) {
    const pool = [...rng.pick(pools)];
    s += rng.pick(pool);
  }
  return s;
}

function unsigned(rng: Prng, bits: number): number {
  const max = 2 ** bits - 1;
  return rng.weighted([
    [3, rng.pick([0, 1, 2, 0o755, 0o777, 0o7777, 0o10000, 0o4755, 65535, 65536, 65537, 0x7fffffff, 0x80000000, 0xffffffff].filter((n) => n <= max))],
    [1, max],
    [2, rng.below(Math.min(max, 0xffffffff) + 1)],
  ]);
}

function signed(rng: Prng, bits: number): number {
  const max = 2 ** (bits - 1) - 1;
  return rng.pick([0, -1, 1, max, -max - 1, rng.int(-max - 1, max)]);
}

function big(rng: Prng, signedType: boolean): { $bigint: string } {
  // dbus-next refuses -2^63 itself (its minimum is off by one).
  const choices = signedType
    ? [0n, -1n, 1n, 2n ** 63n - 1n, -(2n ** 63n) + 1n, BigInt(rng.next()) * BigInt(rng.next() >>> 1) - 2n ** 62n]
    : [0n, 1n, 2n ** 64n - 1n, 2n ** 63n, 2n ** 32n, BigInt(rng.next()) * BigInt(rng.next())];
  return { $bigint: rng.pick(choices).toString() };
}

export function randomType(rng: Prng, depth = 0): string {
  const leaf = depth >= MAX_DEPTH || rng.chance(0.55);
  if (leaf) return rng.pick(BASIC);
  return rng.weighted<() => string>([
    [3, () => 'a' + randomType(rng, depth + 1)],
    [3, () => `a{${rng.chance(0.8) ? rng.pick(STRING_KEYS) : rng.pick(BASIC)}${randomType(rng, depth + 1)}}`],
    [2, () => `(${Array.from({ length: rng.int(1, 4) }, () => randomType(rng, depth + 1)).join('')})`],
    [2, () => 'v'],
  ])();
}

/** A random signature of 0..n complete types. */
export function randomSignature(rng: Prng, maxTypes = 4): string {
  return Array.from({ length: rng.int(0, maxTypes) }, () => randomType(rng)).join('');
}

/** Splits a signature into its complete types. */
export function splitSignature(sig: string): string[] {
  const out: string[] = [];
  let i = 0;
  const one = (): void => {
    const c = sig[i++];
    if (c === 'a') return one();
    if (c === '(' || c === '{') {
      const close = c === '(' ? ')' : '}';
      while (sig[i] !== close) {
        if (i >= sig.length) throw new Error(`unbalanced signature ${sig}`);
        one();
      }
      i++;
    }
  };
  while (i < sig.length) {
    const start = i;
    one();
    out.push(sig.slice(start, i));
  }
  return out;
}

/** The element types inside a container type's brackets. */
function innerTypes(type: string): string[] {
  return splitSignature(type.slice(1, -1));
}

export function randomValue(type: string, ctx: GenContext, depth = 0): unknown {
  const { rng } = ctx;
  switch (type[0]) {
    case 'y':
      return unsigned(rng, 8);
    case 'b':
      return rng.chance(0.5);
    case 'n':
      return signed(rng, 16);
    case 'q':
      return unsigned(rng, 16);
    case 'i':
      return signed(rng, 32);
    case 'u':
      return unsigned(rng, 32);
    case 'x':
      return big(rng, true);
    case 't':
      return big(rng, false);
    case 'd':
      return rng.pick([0, -0, 1.5, -1e308, 1e308, 5e-324, 65536.5, rng.next() / 7]);
    case 's':
      return randomString(ctx);
    case 'o':
      return rng.pick(OBJECT_PATHS);
    case 'g':
      return rng.chance(0.5) ? rng.pick(SIGNATURES) : randomType(rng, MAX_DEPTH - 2);
    case 'h':
      return fdValue(ctx);
    case 'v': {
      const inner = depth >= MAX_DEPTH ? rng.pick(BASIC) : randomType(rng, depth + 1);
      return { $v: [inner, randomValue(inner, ctx, depth + 1)] };
    }
    case '(':
      return innerTypes(type).map((t) => randomValue(t, ctx, depth + 1));
    case 'a': {
      const elem = type.slice(1);
      if (elem[0] === '{') {
        const [keyType, valueType] = innerTypes(elem);
        if (!STRING_KEYS.includes(keyType)) return {};
        const dict: Record<string, unknown> = {};
        const n = count(ctx);
        for (let k = 0; k < n; k++) {
          const key = randomValue(keyType, ctx, depth + 1) as string;
          // '$'-keys would read as the JSON form's markers.
          if (!key.startsWith('$')) dict[key] = randomValue(valueType, ctx, depth + 1);
        }
        return dict;
      }
      let n = elem === 'y' ? Math.min(ctx.budget, rng.pick([0, 1, 16, 4096, 100000])) : count(ctx);
      // Each 'h' element is one more fd in the message.
      if (elem.includes('h')) n = Math.min(n, 3);
      if (elem === 'y') ctx.budget -= n;
      return Array.from({ length: n }, () => randomValue(elem, ctx, depth + 1));
    }
    default:
      throw new Error(`no generator for type ${type}`);
  }
}

function count(ctx: GenContext): number {
  const n = ctx.rng.weighted([
    [3, 0],
    [5, ctx.rng.int(1, 4)],
    [1, ctx.rng.int(5, 64)],
  ]);
  const allowed = Math.max(0, Math.min(n, Math.floor(ctx.budget / 16)));
  ctx.budget -= allowed * 8;
  return allowed;
}

export function fdValue(ctx: GenContext, kind?: FdKind): { $fd: FdKind } {
  return { $fd: kind ?? ctx.fdKind?.() ?? ctx.rng.pick(ALL_FD_KINDS) };
}

/** Every {$fd} marker in a value, in message order. */
export function countFds(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countFds(v), 0);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('$fd' in o) return 1;
    if ('$v' in o) return countFds((o.$v as unknown[])[1]);
    if ('$bigint' in o) return 0;
    return Object.values(o).reduce((n: number, v) => n + countFds(v), 0);
  }
  return 0;
}
