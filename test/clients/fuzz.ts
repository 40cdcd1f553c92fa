// The fuzz client: run as an unprivileged test user (through setpriv and the
// fd-zoo prologue, see test/fuzz/run.ts), it sends seeded random calls to
// nsmountd until --count calls or --seconds have passed, checks every reply
// (test/fuzz/oracle.ts), tries to clear the flags of every mount it receives
// (test/fuzz/loosen.ts), closes every fd it receives, undoes its attachments
// and prints one JSON summary line. Every call and its outcome goes to --log
// as a JSON line.
//
//   node dist/test/clients/fuzz.js --address A --env ENV.json --seed 42 \
//     --count 500 --seconds 60 --concurrency 2 --log calls.jsonl [--denied]
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import dbus from 'dbus-next';
import { connectBus, takeMessageFds } from '../../src/bus/connection';
import { safeDisconnect } from '../../src/stack/bus-connection';
import { decodeBody } from './dbus-json';
import { Prng } from '../fuzz/prng';
import { loadContract, MANAGER, OBJECT_PATH, SERVICE } from '../fuzz/contract';
import { generateCall, ALLOW_INTERACTIVE_AUTHORIZATION, NO_REPLY_EXPECTED, type FuzzCall } from '../fuzz/generate';
import { judge, handlesIn, type Outcome } from '../fuzz/oracle';
import type { FdKind, InheritedKind } from '../fuzz/fd-kinds';
import { closePooled, expirePools, O_DIRECTORY, O_PATH, poolAdd, pools, resolveFd, type FdContext, type Opened } from './fuzz-fds';
import type { FuzzEnv, FuzzProblem, FuzzSummary } from '../fuzz/types';
import { MountLoosener } from '../fuzz/loosen';

const FOREIGN_UID = 2147352576;
const MAX_PROBLEMS = 50;

const { values: args } = parseArgs({
  options: {
    address: { type: 'string' },
    env: { type: 'string' },
    seed: { type: 'string', default: '1' },
    count: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '2' },
    log: { type: 'string' },
    denied: { type: 'boolean', default: false },
    'timeout-ms': { type: 'string', default: '20000' },
  },
  strict: true,
});

const contract = loadContract();
const env = JSON.parse(fs.readFileSync(args.env!, 'utf8')) as FuzzEnv;
const inherited = JSON.parse(process.env.NSM_FUZZ_FDS ?? '{}') as Partial<Record<InheritedKind, number>>;
const seed = Number(args.seed) >>> 0;
const timeoutMs = Number(args['timeout-ms']);
const logFd = args.log ? fs.openSync(args.log, 'a') : -1;

const problems: FuzzProblem[] = [];
const outcomes: Record<string, number> = {};
let calls = 0;
let attachSerial = 0;
let connectionError: string | undefined;
const fdContext: FdContext = { env, seed, inherited, nextAttachSerial: () => attachSerial++ };

function send(bus: dbus.MessageBus, call: FuzzCall, body: unknown[]): Promise<{ outcome: Outcome; reply?: dbus.Message; fds?: number[] }> {
  const msg = new dbus.Message({
    destination: call.destination,
    path: call.path,
    ...(call.interface !== undefined ? { interface: call.interface } : {}),
    member: call.member,
    signature: call.signature,
    body,
    flags: call.flags,
  });
  if (call.flags & NO_REPLY_EXPECTED) {
    bus.send(msg);
    return Promise.resolve({ outcome: { kind: 'no-reply' } });
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ outcome: Outcome }>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: { kind: 'timeout', ms: timeoutMs } }), timeoutMs);
  });
  const answer = bus.call(msg).then(
    (reply) => {
      const fds = reply ? takeMessageFds(reply) : [];
      return { outcome: { kind: 'reply', signature: reply?.signature ?? '', body: reply?.body ?? [], fds: fds.length } as Outcome, reply: reply ?? undefined, fds };
    },
    (err: unknown) => {
      if (err instanceof dbus.DBusError) {
        const reply = (err as unknown as { reply?: dbus.Message }).reply;
        const fds = reply ? takeMessageFds(reply) : [];
        for (const fd of fds) fs.closeSync(fd);
        return { outcome: { kind: 'error', name: err.type, message: reply?.body?.[0], signature: reply?.signature ?? '', fds: fds.length } as Outcome };
      }
      return { outcome: { kind: 'client-error', message: err instanceof Error ? err.message : String(err) } as Outcome };
    },
  );
  return Promise.race([answer, timeout]).finally(() => clearTimeout(timer));
}

/** Checks what a success handed over, then keeps or closes each fd. */
function takeReplyFds(call: FuzzCall, reply: dbus.Message, all: number[]): string | undefined {
  const handles = handlesIn(reply.signature ?? '', reply.body ?? []);
  let problem: string | undefined;
  const keep = new Set<number>();
  const method = call.interface === MANAGER || call.interface === undefined ? call.member : '';
  try {
    for (const fd of handles) {
      const link = fs.readlinkSync(`/proc/self/fd/${fd}`);
      const st = fs.fstatSync(fd);
      if (method === 'AllocateUserNamespace') {
        if (!link.startsWith('user:[')) problem ??= `AllocateUserNamespace returned ${link}, not a user namespace`;
        const base = reply.body[1] as number;
        if (base % 65536 !== 0) problem ??= `AllocateUserNamespace returned base ${base}, not 64K-aligned`;
        poolAdd('pool-userns', fd, call.iteration);
        keep.add(fd);
      } else if (method === 'MakeDirectory') {
        if (!st.isDirectory() || st.uid !== FOREIGN_UID || (st.mode & 0o7002) !== 0) {
          problem ??= `MakeDirectory returned mode ${st.mode.toString(8)} uid ${st.uid}, not a foreign-owned directory without setuid/sticky/o+w`;
        }
        poolAdd('pool-directory', fd, call.iteration);
        keep.add(fd);
      } else if (method === 'IdmapDirectory' || method === 'Mount') {
        poolAdd('pool-mount', fd, call.iteration);
        keep.add(fd);
      }
    }
    if (method === 'IdmapDirectory' || method === 'Mount') {
      loosener.attack(handles, (problem) => finding(call, problem));
    }
  } catch (err) {
    problem ??= `cannot inspect a returned fd: ${(err as Error).message}`;
  }
  for (const fd of all) if (!keep.has(fd)) fs.closeSync(fd);
  return problem;
}

const loosener = new MountLoosener();

/** A problem found after the call's reply was judged: the attack on the mounts it returned. */
function finding(call: FuzzCall, problem: string): void {
  if (problems.length < MAX_PROBLEMS) problems.push({ seed, iteration: call.iteration, cleanup: false, call: describeCall(call), outcome: { kind: 'loosen' }, problem });
  if (logFd >= 0) fs.writeSync(logFd, JSON.stringify({ seed, ...describeCall(call), outcome: { kind: 'loosen' }, problem }) + '\n');
}

function record(call: FuzzCall, outcome: Outcome, ms: number, problem: string | undefined, cleanup = false): void {
  calls++;
  const key = outcome.kind === 'error' ? outcome.name : outcome.kind === 'reply' ? `ok:${call.member}` : outcome.kind;
  outcomes[key] = (outcomes[key] ?? 0) + 1;
  if (problem && problems.length < MAX_PROBLEMS) problems.push({ seed, iteration: call.iteration, cleanup, call: describeCall(call), outcome: describeOutcome(outcome), problem });
  if (logFd >= 0) {
    const line = { seed, ...describeCall(call), cleanup, outcome: describeOutcome(outcome), ms: Math.round(ms * 100) / 100, ...(problem ? { problem } : {}) };
    fs.writeSync(logFd, JSON.stringify(line) + '\n');
  }
}

function describeCall(call: FuzzCall): Record<string, unknown> {
  return { ...call, body: truncate(call.body) };
}

function describeOutcome(outcome: Outcome): Record<string, unknown> {
  if (outcome.kind === 'reply') return { kind: 'reply', signature: outcome.signature, fds: outcome.fds };
  if (outcome.kind === 'error') return { ...outcome, message: typeof outcome.message === 'string' ? outcome.message.slice(0, 300) : outcome.message };
  return outcome;
}

/** Bodies can hold megabytes; the log keeps their shape. */
function truncate(value: unknown): unknown {
  if (typeof value === 'string') return value.length > 120 ? `${value.slice(0, 60)}…(${value.length} chars)` : value;
  if (Array.isArray(value)) return value.length > 32 ? [...value.slice(0, 32).map(truncate), `…(${value.length} items)`] : value.map(truncate);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [truncate(k) as string, truncate(v)]));
  return value;
}

async function runCall(bus: dbus.MessageBus, call: FuzzCall): Promise<void> {
  expirePools(call.iteration);
  const opened: Opened = { fds: [], attachDirs: [] };
  let body: unknown[];
  try {
    body = decodeBody(call.body, ({ path: kind }) => resolveFd(kind as FdKind, call.iteration, opened, bus, fdContext)) as unknown[];
  } catch (err) {
    for (const fd of opened.fds) fs.closeSync(fd);
    record(call, { kind: 'client-error', message: `cannot prepare fds: ${(err as Error).message}` }, 0, `cannot prepare fds: ${(err as Error).message}`);
    return;
  }
  const started = process.hrtime.bigint();
  let result: { outcome: Outcome; reply?: dbus.Message; fds?: number[] };
  try {
    result = await send(bus, call, body);
  } catch (err) {
    result = { outcome: { kind: 'client-error', message: (err as Error).message } };
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  for (const fd of opened.fds) fs.closeSync(fd);
  let problem = judge(contract, call, result.outcome, { deniedEverything: args.denied! });
  if (result.reply) {
    const fdProblem = takeReplyFds(call, result.reply, result.fds ?? []);
    problem ??= fdProblem;
  }
  record(call, result.outcome, ms, problem);
  if (result.outcome.kind === 'reply') for (const dir of opened.attachDirs) await detach(bus, call.iteration, dir);
  for (const dir of opened.attachDirs) {
    try {
      fs.rmdirSync(dir);
    } catch {
      // Still a mount point (the final cleanup unmounts it) or already gone.
    }
  }
}

/** Unmounts what a successful call may have attached at `dir`, through the daemon as any client would. */
async function detach(bus: dbus.MessageBus, iteration: number, dir: string): Promise<void> {
  let fd: number;
  try {
    fd = fs.openSync(dir, O_PATH | O_DIRECTORY);
  } catch {
    return;
  }
  const call: FuzzCall = {
    iteration,
    destination: SERVICE,
    path: OBJECT_PATH,
    interface: MANAGER,
    member: 'Unmount',
    signature: 'ha{sv}',
    body: [{ $fd: 'attach-dir' }, {}],
    flags: ALLOW_INTERACTIVE_AUTHORIZATION,
    intent: `cleanup: unmount ${dir}`,
  };
  const started = process.hrtime.bigint();
  const result = await send(bus, call, [fd, {}]);
  fs.closeSync(fd);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  // NotFound: nothing was attached there (AttachTo named another fd).
  const expected = result.outcome.kind === 'reply' || (result.outcome.kind === 'error' && result.outcome.name.endsWith('.NotFound'));
  const problem = judge(contract, call, result.outcome, { deniedEverything: args.denied! }) ?? (expected ? undefined : `cleanup Unmount failed`);
  record(call, result.outcome, ms, problem, true);
}

/** At the end: every attachment the caller still has is unmounted, so the host is as it was. */
async function finalCleanup(bus: dbus.MessageBus): Promise<void> {
  for (const pool of Object.values(pools)) for (const fd of pool.splice(0)) closePooled(fd);
  if (args.denied) return;
  const list = await send(bus, { iteration: -1, destination: SERVICE, path: OBJECT_PATH, interface: MANAGER, member: 'ListMounts', signature: 'a{sv}', body: [{}], flags: ALLOW_INTERACTIVE_AUTHORIZATION, intent: 'cleanup: list mounts' }, [{}]);
  if (list.outcome.kind !== 'reply') return;
  for (const [target] of list.outcome.body[0] as Array<[string]>) await detach(bus, -1, target);
}

async function main(): Promise<FuzzSummary> {
  const bus = await connectBus({ address: args.address! });
  // Every call after a lost connection fails; the first error says why.
  bus.on('error', (err: Error) => {
    connectionError ??= err.message;
  });
  const rng = new Prng(seed);
  const count = Number(args.count);
  const deadline = Date.now() + Number(args.seconds) * 1000;
  let next = 0;
  const started = Date.now();
  // Calls are generated in iteration order whatever the concurrency, so a
  // seed names the same sequence of calls on every run.
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const call = generateCall(rng, contract, next++);
      await runCall(bus, call);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Number(args.concurrency)) }, worker));
  const iterations = next;
  await loosener.drain();
  await finalCleanup(bus);
  safeDisconnect(bus);
  return { seed, iterations, calls, seconds: (Date.now() - started) / 1000, outcomes, problems, ...(connectionError ? { connectionError } : {}) };
}

main().then(
  (summary) => {
    process.stdout.write(JSON.stringify(summary) + '\n');
    process.exit(0);
  },
  (err: Error) => {
    process.stdout.write(JSON.stringify({ seed, fatal: err.stack ?? err.message }) + '\n');
    process.exit(2);
  },
);
