// One random call per iteration. Most calls aim at the Manager with the right
// signature and arguments shaped like real ones (names from a small set so
// they collide, option keys the contract documents, fds of the kind the
// argument wants), because only those get past parsing into the code that
// allocates, mounts and authorizes; the rest are wrong signatures, unknown
// members, other interfaces and other objects.
import { Prng } from './prng';
import { ALL_FD_KINDS, ROLE_KINDS, type FdKind } from './fd-kinds';
import {
  type Contract,
  type ContractMethod,
  INTROSPECTABLE,
  MANAGER,
  OBJECT_PATH,
  PEER,
  PROPERTIES,
  SERVICE,
  signatureOf,
} from './contract';
import {
  type GenContext,
  countFds,
  fdValue,
  INTERESTING_STRINGS,
  MAX_FDS_PER_CALL,
  randomSignature,
  randomString,
  randomType,
  randomValue,
  splitSignature,
} from './values';

export const ALLOW_INTERACTIVE_AUTHORIZATION = 0x4;
export const NO_REPLY_EXPECTED = 0x1;
const NO_AUTO_START = 0x2;
/** Per call, so a huge string or byte array now and then stays far below the bus's 32 MiB. */
const BODY_BUDGET = 1 << 20;

export interface FuzzCall {
  iteration: number;
  destination: string;
  path: string;
  /** Absent: no INTERFACE header field. */
  interface?: string;
  member: string;
  signature: string;
  /** JSON form (see values.ts); fds are {"$fd": kind}. */
  body: unknown[];
  flags: number;
  /** What the generator meant, for reading failures. */
  intent: string;
}

const UNKNOWN_MEMBERS = ['Frobnicate', 'allocateUserNamespace', 'Mount2', 'GetAll', 'Ping', 'Introspect', 'Get', 'X'.repeat(255), '_', 'Unmount_'];
const OTHER_INTERFACES = ['org.nsmount.NsMount1', 'org.nsmount.NsMount1.Manager2', 'org.freedesktop.DBus.ObjectManager', 'a.b', 'org.freedesktop.DBus'];
const OTHER_PATHS = ['/', '/org', '/org/nsmount', '/org/nsmount/NsMount1/sub', '/org/nsmount/NsMount2', '/org/freedesktop/DBus'];
const UNKNOWN_KEYS = ['mode', 'Foo', '', 'UserNamespace ', 'userNamespace', 'ATTACHTO', '日本', 'x'.repeat(300), 'ReadOnly\u0301'];

export function generateCall(rng: Prng, contract: Contract, iteration: number): FuzzCall {
  for (let attempt = 0; ; attempt++) {
    const call = generateOnce(rng, contract, iteration);
    // More fds than the bus allows in one message gets the connection dropped.
    if (countFds(call.body) <= MAX_FDS_PER_CALL) return call;
    if (attempt >= 4) return { ...call, signature: '', body: [], intent: `${call.intent} (too many fds, body dropped)` };
  }
}

function generateOnce(rng: Prng, contract: Contract, iteration: number): FuzzCall {
  const flags = rng.weighted([
    [9, 0],
    [9, ALLOW_INTERACTIVE_AUTHORIZATION],
    [1, NO_REPLY_EXPECTED],
    [1, NO_AUTO_START | ALLOW_INTERACTIVE_AUTHORIZATION],
  ]);
  const base = { iteration, destination: SERVICE, path: OBJECT_PATH, flags };
  const ctx: GenContext = { rng, budget: BODY_BUDGET };
  const target = rng.weighted<string>([
    [70, 'manager'],
    [8, 'properties'],
    [3, 'introspect'],
    [3, 'peer'],
    [5, 'unknown-member'],
    [4, 'unknown-interface'],
    [4, 'no-interface'],
    [3, 'other-path'],
  ]);
  switch (target) {
    case 'manager': {
      const method = rng.pick(contract.methods);
      if (rng.chance(0.75)) {
        return { ...base, interface: MANAGER, member: method.name, signature: signatureOf(method.in), body: managerBody(method, contract, ctx), intent: 'right signature' };
      }
      const signature = wrongSignature(rng, signatureOf(method.in));
      return { ...base, interface: MANAGER, member: method.name, signature, body: bodyFor(signature, ctx), intent: 'wrong signature' };
    }
    case 'properties': {
      const member = rng.pick(['Get', 'GetAll', 'Set', 'GetAll', 'Get']);
      const right = { Get: 'ss', GetAll: 's', Set: 'ssv' }[member]!;
      const signature = rng.chance(0.8) ? right : wrongSignature(rng, right);
      const iface = () => rng.pick([MANAGER, MANAGER, '', PROPERTIES, 'org.nsmount.NsMount1', randomString(ctx)]);
      const prop = () => rng.chance(0.7) ? rng.pick(Object.keys(contract.properties)) : randomString(ctx);
      let body: unknown[];
      if (signature === 'ss') body = [iface(), prop()];
      else if (signature === 's') body = [iface()];
      else if (signature === 'ssv') body = [iface(), prop(), randomValue('v', ctx)];
      else body = bodyFor(signature, ctx);
      return { ...base, interface: PROPERTIES, member, signature, body, intent: 'properties' };
    }
    case 'introspect': {
      const signature = rng.chance(0.7) ? '' : randomSignature(rng, 2);
      return { ...base, path: rng.chance(0.7) ? OBJECT_PATH : rng.pick(OTHER_PATHS), interface: INTROSPECTABLE, member: 'Introspect', signature, body: bodyFor(signature, ctx), intent: 'introspect' };
    }
    case 'peer': {
      const member = rng.pick(['Ping', 'GetMachineId', 'Pong']);
      const signature = rng.chance(0.7) ? '' : randomSignature(rng, 2);
      return { ...base, interface: PEER, member, signature, body: bodyFor(signature, ctx), intent: 'peer' };
    }
    case 'unknown-member': {
      const signature = randomSignature(rng);
      return { ...base, interface: MANAGER, member: rng.pick(UNKNOWN_MEMBERS), signature, body: bodyFor(signature, ctx), intent: 'unknown member' };
    }
    case 'unknown-interface': {
      const method = rng.pick(contract.methods);
      const signature = rng.chance(0.5) ? signatureOf(method.in) : randomSignature(rng);
      return { ...base, interface: rng.pick(OTHER_INTERFACES), member: method.name, signature, body: bodyFor(signature, ctx), intent: 'unknown interface' };
    }
    case 'no-interface': {
      // The D-Bus spec lets a call omit the interface; a Manager method must still be checked in full.
      const method = rng.pick(contract.methods);
      const member = rng.chance(0.8) ? method.name : rng.pick(['Introspect', 'Ping', 'Get']);
      const signature = rng.chance(0.6) ? signatureOf(method.in) : randomSignature(rng);
      const body = signature === signatureOf(method.in) && member === method.name ? managerBody(method, contract, ctx) : bodyFor(signature, ctx);
      return { ...base, member, signature, body, intent: 'no interface' };
    }
    default: {
      const method = rng.pick(contract.methods);
      const signature = signatureOf(method.in);
      return { ...base, path: rng.pick(OTHER_PATHS), interface: MANAGER, member: method.name, signature, body: managerBody(method, contract, ctx), intent: 'other path' };
    }
  }
}

/** Near misses of the right signature, or something unrelated. */
function wrongSignature(rng: Prng, right: string): string {
  const types = splitSignature(right);
  for (;;) {
    const t = [...types];
    const sig = rng.weighted<() => string>([
      [2, () => (t.splice(rng.below(t.length + 1), 1), t.join(''))],
      [2, () => (t.splice(rng.below(t.length + 1), 0, randomType(rng)), t.join(''))],
      [2, () => (t.length ? ((t[rng.below(t.length)] = randomType(rng)), t.join('')) : randomType(rng))],
      [1, () => [...t].reverse().join('')],
      [1, () => t.map((x) => (x === 'a{sv}' ? 'a{ss}' : x === 'h' ? 'u' : x === 'u' ? 'i' : x)).join('')],
      [1, () => randomSignature(rng)],
    ])();
    if (sig !== right) return sig;
  }
}

function bodyFor(signature: string, ctx: GenContext): unknown[] {
  return splitSignature(signature).map((t) => randomValue(t, ctx));
}

function roleKind(rng: Prng, role: keyof typeof ROLE_KINDS): FdKind {
  return rng.chance(0.7) ? rng.pick(ROLE_KINDS[role]) : rng.pick(ALL_FD_KINDS);
}

/** Arguments shaped by their names in the contract. */
function managerBody(method: ContractMethod, contract: Contract, ctx: GenContext): unknown[] {
  const { rng } = ctx;
  return method.in.map((arg) => {
    if (arg.type === 'a{sv}') return optionsFor(method, contract, ctx);
    if (arg.type === 'h') {
      const role = arg.name === 'image' ? 'image' : arg.name === 'mount_point' ? 'mount' : 'directory';
      return fdValue(ctx, roleKind(rng, role));
    }
    if (arg.type === 's' && arg.name === 'name') {
      // A few names, so NameExists and Exists come up.
      return rng.chance(0.6) ? `fz${rng.below(6)}` : randomString(ctx);
    }
    if (arg.type === 'u' && arg.name === 'size') {
      return rng.weighted([
        [3, 0],
        [2, 65536],
        [1, 1],
        [1, 65537],
        [1, 0xffffffff],
        [1, rng.int(1, 70000)],
      ]);
    }
    return randomValue(arg.type, ctx);
  });
}

function optionsFor(method: ContractMethod, contract: Contract, ctx: GenContext): Record<string, unknown> {
  const { rng } = ctx;
  const own = Object.keys(method.options);
  const anyKeys = [...new Set(contract.methods.flatMap((m) => Object.keys(m.options)))];
  const options: Record<string, unknown> = {};
  const n = rng.weighted([
    [3, 0],
    [4, 1],
    [3, 2],
    [2, 3],
    [1, rng.int(4, 8)],
  ]);
  for (let k = 0; k < n; k++) {
    const key = rng.weighted<() => string>([
      [own.length ? 7 : 0, () => rng.pick(own)],
      [1, () => rng.pick(anyKeys)],
      [1, () => rng.pick(UNKNOWN_KEYS)],
    ])();
    const type = method.options[key] ?? contract.methods.map((m) => m.options[key]).find(Boolean);
    options[key] = type && rng.chance(0.8) ? { $v: [type, optionValue(key, type, ctx)] } : randomValue('v', ctx);
  }
  return options;
}

function optionValue(key: string, type: string, ctx: GenContext): unknown {
  const { rng } = ctx;
  if (type === 'h') return fdValue(ctx, roleKind(rng, key === 'UserNamespace' ? 'userns' : 'attach'));
  if (key === 'Mode' && type === 's') return rng.chance(0.8) ? rng.pick(['foreign', 'owner', 'identity', 'auto']) : randomString(ctx);
  if (key === 'Mode' && type === 'u') return rng.pick([0o755, 0o700, 0o7777, 0o10000, 0o777, 0o4755, 0xffffffff, 0]);
  if (key === 'Partitions') {
    const designators = ['root', 'usr', 'home', 'srv', 'var', 'tmp', 'esp', 'xbootldr', 'data'];
    return Array.from({ length: rng.int(0, 3) }, () => (rng.chance(0.85) ? rng.pick(designators) : rng.pick(INTERESTING_STRINGS)));
  }
  if (key === 'MountOptions') {
    const parts = ['acl', 'noacl', 'user_xattr', 'noatime', 'commit=5', 'data=ordered', 'errors=remount-ro', 'suid', 'dev', 'errors=panic', 'lazytime', 'nodiratime'];
    return rng.chance(0.8) ? Array.from({ length: rng.int(1, 3) }, () => rng.pick(parts)).join(',') : randomString(ctx);
  }
  return randomValue(type, ctx);
}
