// Whether one reply is acceptable: a proper D-Bus error the contract allows,
// or a success of exactly the out signature for a call that may succeed.
import { type Contract, expectedReplySignature, MANAGER } from './contract';
import { errnoWords } from '../../src/errno-words';
import { splitSignature } from './values';
import type { FuzzCall } from './generate';

export type Outcome =
  | { kind: 'error'; name: string; message: unknown; signature: string; fds: number }
  | { kind: 'reply'; signature: string; body: unknown[]; fds: number }
  | { kind: 'no-reply' }
  | { kind: 'timeout'; ms: number }
  | { kind: 'client-error'; message: string };

const ERROR_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/;
const FREEDESKTOP_ERROR = 'org.freedesktop.DBus.Error.';
/** What the dispatcher says for an exception it did not expect: a daemon bug by definition. */
const INTERNAL_ERROR = /internal error/i;

export interface JudgeOptions {
  /** A polkit rule refuses this caller everything: no Manager call may succeed. */
  deniedEverything: boolean;
}

/** undefined when the outcome is fine, else why not. */
export function judge(contract: Contract, call: FuzzCall, outcome: Outcome, opts: JudgeOptions): string | undefined {
  switch (outcome.kind) {
    case 'timeout':
      return `no reply within ${outcome.ms} ms`;
    case 'client-error':
      return `the client could not make the call: ${outcome.message}`;
    case 'no-reply':
      return call.flags & 0x1 ? undefined : 'no reply although one was expected';
    case 'error': {
      if (!ERROR_NAME.test(outcome.name)) return `malformed error name ${JSON.stringify(outcome.name)}`;
      if (!outcome.name.startsWith(FREEDESKTOP_ERROR) && !contract.errors.includes(outcome.name)) {
        return `error ${outcome.name} is not in the contract`;
      }
      if (outcome.signature !== 's' || typeof outcome.message !== 'string') {
        return `error ${outcome.name} has body signature '${outcome.signature}', not one message string`;
      }
      if (INTERNAL_ERROR.test(outcome.message)) return `unexpected daemon failure: ${outcome.name}: ${outcome.message}`;
      // The daemon fstats every passed fd first, so EBADF later means it used
      // an fd the wrong way: a kind of fd it should have named as a
      // BadFileDescriptor, or worse, one of its own.
      // A System error says its errno in words; these are EBADF's.
      if (outcome.name.endsWith('.Error.System') && outcome.message.includes(errnoWords('EBADF'))) return `System error with EBADF: ${outcome.message}`;
      if (outcome.fds !== 0) return `error ${outcome.name} carried ${outcome.fds} fds`;
      return undefined;
    }
    case 'reply': {
      const expected = expectedReplySignature(contract, call);
      if (expected === undefined) return `success (signature '${outcome.signature}') for a call that must fail`;
      if (outcome.signature !== expected) return `reply signature '${outcome.signature}', expected '${expected}'`;
      const bad = conforms(expected, outcome.body);
      if (bad) return `reply body does not match '${expected}': ${bad}`;
      const hs = countHandles(expected, outcome.body);
      if (hs !== outcome.fds) return `reply references ${hs} fds but carried ${outcome.fds}`;
      const isManager = call.interface === MANAGER || (call.interface === undefined && contract.methods.some((m) => m.name === call.member));
      if (opts.deniedEverything && isManager) return `${call.member} succeeded for a caller polkit refuses everything`;
      return undefined;
    }
  }
}

/** Checks a body as dbus-next decodes it; returns where it differs. */
export function conforms(signature: string, body: unknown[]): string | undefined {
  const types = splitSignature(signature);
  if (!Array.isArray(body) || body.length !== types.length) return `${Array.isArray(body) ? body.length : 'no'} values for ${types.length} types`;
  for (let i = 0; i < types.length; i++) {
    const bad = conformsValue(types[i], body[i], `[${i}]`);
    if (bad) return bad;
  }
  return undefined;
}

const RANGES: Record<string, [number, number]> = {
  y: [0, 255],
  n: [-32768, 32767],
  q: [0, 65535],
  i: [-(2 ** 31), 2 ** 31 - 1],
  u: [0, 2 ** 32 - 1],
  h: [0, 2 ** 31 - 1],
};

function conformsValue(type: string, value: unknown, where: string): string | undefined {
  const fail = (what: string) => `${where}: expected ${what} for '${type}', got ${describe(value)}`;
  const c = type[0];
  if (c in RANGES) {
    const [lo, hi] = RANGES[c];
    return typeof value === 'number' && Number.isInteger(value) && value >= lo && value <= hi ? undefined : fail(`an integer in ${lo}..${hi}`);
  }
  switch (c) {
    case 'b':
      return typeof value === 'boolean' ? undefined : fail('a boolean');
    case 'd':
      return typeof value === 'number' ? undefined : fail('a number');
    case 'x':
    case 't': {
      if (typeof value !== 'bigint' && typeof value !== 'number') return fail('a 64-bit integer');
      const v = BigInt(value);
      const ok = c === 't' ? v >= 0n && v < 2n ** 64n : v >= -(2n ** 63n) && v < 2n ** 63n;
      return ok ? undefined : fail('a 64-bit integer in range');
    }
    case 's':
    case 'o':
    case 'g':
      return typeof value === 'string' ? undefined : fail('a string');
    case 'v': {
      const v = value as { signature?: unknown; value?: unknown } | null;
      if (!v || typeof v.signature !== 'string') return fail('a variant');
      if (splitSignature(v.signature).length !== 1) return fail('a variant of one complete type');
      return conformsValue(v.signature, v.value, `${where}<${v.signature}>`);
    }
    case '(': {
      const inner = splitSignature(type.slice(1, -1));
      if (!Array.isArray(value) || value.length !== inner.length) return fail(`a struct of ${inner.length}`);
      for (let i = 0; i < inner.length; i++) {
        const bad = conformsValue(inner[i], value[i], `${where}.${i}`);
        if (bad) return bad;
      }
      return undefined;
    }
    case 'a': {
      const elem = type.slice(1);
      if (elem[0] === '{') {
        const [k, v] = splitSignature(elem.slice(1, -1));
        if (!value || typeof value !== 'object' || Array.isArray(value)) return fail('a dictionary');
        for (const [key, item] of Object.entries(value)) {
          if (k === 's' || k === 'o' || k === 'g') {
            if (typeof key !== 'string') return fail('string keys');
          }
          const bad = conformsValue(v, item, `${where}[${JSON.stringify(key)}]`);
          if (bad) return bad;
        }
        return undefined;
      }
      if (elem === 'y' && Buffer.isBuffer(value)) return undefined;
      if (!Array.isArray(value)) return fail('an array');
      for (let i = 0; i < value.length; i++) {
        const bad = conformsValue(elem, value[i], `${where}[${i}]`);
        if (bad) return bad;
      }
      return undefined;
    }
    default:
      return fail('a known type');
  }
}

/** Every 'h' value in a body that conforms to `signature`, in message order. */
export function handlesIn(signature: string, body: unknown[]): number[] {
  const out: number[] = [];
  const walk = (type: string, value: unknown): void => {
    const c = type[0];
    if (c === 'h') out.push(value as number);
    else if (c === 'v') {
      const v = value as { signature: string; value: unknown };
      walk(v.signature, v.value);
    } else if (c === '(') splitSignature(type.slice(1, -1)).forEach((t, i) => walk(t, (value as unknown[])[i]));
    else if (c === 'a') {
      const elem = type.slice(1);
      if (elem[0] === '{') {
        const [, v] = splitSignature(elem.slice(1, -1));
        for (const item of Object.values(value as object)) walk(v, item);
      } else if (!Buffer.isBuffer(value)) for (const item of value as unknown[]) walk(elem, item);
    }
  };
  splitSignature(signature).forEach((t, i) => walk(t, body[i]));
  return out;
}

function countHandles(signature: string, body: unknown[]): number {
  return handlesIn(signature, body).length;
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  try {
    const s = JSON.stringify(value);
    return s === undefined ? String(value) : s.length > 80 ? s.slice(0, 80) + '…' : s;
  } catch {
    return String(value);
  }
}
