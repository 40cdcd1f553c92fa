// One light client process driving --connections bus connections at once,
// each with one call in flight, so the daemon (not a crowd of client
// processes competing for the same cores) is what limits throughput.
// Runs as whichever user it was started as. After warm-up it prints
// {"ready":true}, waits for a line on stdin, runs --calls calls per
// connection and prints one JSON line: samples (ms) per method, calls and
// the wall time of the timed part. Given "go N" lines instead of "go", it
// runs N calls per connection and prints such a line for each, until
// stdin closes.
//
//   --method Ping | ListUserNamespaces | ListMounts | AllocateUserNamespace |
//            MakeDirectory | IdmapDirectory | Mount | AttachTo | UnmountAttached |
//            CheckAuthorization
//     CheckAuthorization: polkit's, of --action for this very connection (a
//     system-bus-name subject, the kind nsmountd passes), with no details.
//     AttachTo: IdmapDirectory with AttachTo on a fresh directory, left
//     attached; sampled as "IdmapDirectory+AttachTo".
//     UnmountAttached: Unmount of what AttachTo attached under the same
//     --parent, one per call; sampled as "Unmount". Run
//     apart, the two have a daemon CPU figure each.
//   --hold-namespaces N, --hold-attachments N: before anything else, make N
//     namespaces (kept open) and N attachments (left attached), print
//     {"held":true}, and keep them until stdin closes.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import dbus from 'dbus-next';
import { connectBus, type MessageBus } from '../../src/bus/connection';
import { callBus } from '../../src/bus/bus-call';
import { closeQuietly } from '../../src/native/fd';
import { O_DIRECTORY, O_PATH } from '../../src/native/dirfd';

const NSMOUNTD = 'org.nsmount.NsMount1';
const OBJECT = '/org/nsmount/NsMount1';
const MANAGER = 'org.nsmount.NsMount1.Manager';
const POLKIT_AUTHORITY = {
  destination: 'org.freedesktop.PolicyKit1',
  path: '/org/freedesktop/PolicyKit1/Authority',
  interface: 'org.freedesktop.PolicyKit1.Authority',
} as const;

type Samples = Record<string, number[]>;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

interface Setup {
  /** A directory the user owns: MakeDirectory's parent, and where AttachTo makes its targets. */
  parent?: string;
  image?: string;
  destination: string;
  tag: string;
  /** polkit action of --method CheckAuthorization. */
  action?: string;
}

function openDir(dir: string): number {
  return fs.openSync(dir, O_PATH | O_DIRECTORY);
}

/** One connection's calls of one method; returns a function that makes one call and records its samples. */
function caller(bus: MessageBus, method: string, setup: Setup, samples: Samples): () => Promise<void> {
  const call = (member: string, signature: string, body: unknown[]) =>
    callBus(bus, { destination: setup.destination, path: OBJECT, interface: MANAGER, member, signature, body });
  let counter = 0;
  const unique = () => `mc-${setup.tag}-${counter++}`;
  const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
    const start = nowMs();
    const result = await fn();
    (samples[label] ??= []).push(nowMs() - start);
    return result;
  };
  const parentFd = () => {
    if (!setup.parent) throw new Error(`--parent is needed for ${method}`);
    return openDir(setup.parent);
  };
  const sourceFd = () => {
    if (!setup.parent) throw new Error(`--parent is needed for ${method}`);
    return openDir(sourceDir(setup));
  };
  switch (method) {
    case 'Ping':
      return () => timed(method, () => callBus(bus, { destination: setup.destination, path: OBJECT, interface: 'org.freedesktop.DBus.Peer', member: 'Ping' })).then(() => {});
    case 'CheckAuthorization': {
      // dbus-next sets it on Hello but does not declare it.
      const subject = ['system-bus-name', { name: new dbus.Variant('s', (bus as unknown as { name: string }).name) }];
      const check = () =>
        callBus(bus, { ...POLKIT_AUTHORITY, member: 'CheckAuthorization', signature: '(sa{sv})sa{ss}us', body: [subject, setup.action, {}, 0, ''] });
      return async () => {
        const [[authorized]] = (await timed(method, check)) as [[boolean]];
        if (!authorized) throw new Error(`polkit did not authorize ${setup.action}; the benchmark needs an allowed action`);
      };
    }
    case 'ListUserNamespaces':
    case 'ListMounts':
      return () => timed(method, () => call(method, 'a{sv}', [{}])).then(() => {});
    case 'AllocateUserNamespace':
      return async () => {
        const [fd] = (await timed(method, () => call(method, 'sua{sv}', [unique(), 0, {}]))) as [number];
        closeQuietly(fd);
      };
    case 'MakeDirectory': {
      const parent = parentFd();
      return async () => {
        const [fd] = (await timed(method, () => call(method, 'hsa{sv}', [parent, unique(), {}]))) as [number];
        closeQuietly(fd);
      };
    }
    case 'IdmapDirectory': {
      const source = sourceFd();
      return async () => {
        const [fd] = (await timed(method, () => call(method, 'ha{sv}', [source, { Mode: new dbus.Variant('s', 'identity') }]))) as [number];
        closeQuietly(fd);
      };
    }
    case 'Mount': {
      if (!setup.image) throw new Error('--image is needed for Mount');
      const image = fs.openSync(setup.image, 'r');
      return async () => {
        const [partitions] = (await timed(method, () => call(method, 'ha{sv}', [image, { ReadOnly: new dbus.Variant('b', true) }]))) as [Array<unknown[]>];
        for (const p of partitions) closeQuietly(p[7] as number);
      };
    }
    case 'AttachTo': {
      const source = sourceFd();
      return async () => {
        const targetFd = openDir(attachTarget(setup, `attached-${unique()}`));
        try {
          const options = { Mode: new dbus.Variant('s', 'identity'), AttachTo: new dbus.Variant('h', targetFd) };
          const [fd] = (await timed('IdmapDirectory+AttachTo', () => call('IdmapDirectory', 'ha{sv}', [source, options]))) as [number];
          closeQuietly(fd);
        } finally {
          closeQuietly(targetFd);
        }
      };
    }
    case 'UnmountAttached':
      return async () => {
        const target = nextAttached(setup);
        const mountedFd = openDir(target);
        try {
          await timed('Unmount', () => call('Unmount', 'ha{sv}', [mountedFd, {}]));
        } finally {
          closeQuietly(mountedFd);
        }
        fs.rmdirSync(target);
      };
    default:
      throw new Error(`unknown --method ${method}`);
  }
}

/** What IdmapDirectory maps: a directory with nothing mounted below it, beside the attach targets. */
function sourceDir(setup: Setup): string {
  const dir = path.join(setup.parent!, 'source');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function attachTarget(setup: Setup, name: string): string {
  const dir = path.join(setup.parent!, 'targets', name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Targets AttachTo left attached; shared by every connection of this process. */
let attached: string[] | undefined;

function nextAttached(setup: Setup): string {
  // Read again once used up: a client that stays for many runs unmounts what a later AttachTo run made.
  if (!attached || attached.length === 0) {
    const dir = path.join(setup.parent!, 'targets');
    attached = fs.readdirSync(dir).filter((name) => name.startsWith('attached-')).map((name) => path.join(dir, name));
  }
  const next = attached.shift();
  if (!next) throw new Error('UnmountAttached: nothing left that AttachTo attached');
  return next;
}

/** Makes what the scale benchmark needs to exist: live namespaces (fds kept here) and attachments. */
async function hold(bus: MessageBus, setup: Setup, counts: { namespaces: number; attachments: number }): Promise<number[]> {
  const kept: number[] = [];
  const call = (member: string, signature: string, body: unknown[]) =>
    callBus(bus, { destination: setup.destination, path: OBJECT, interface: MANAGER, member, signature, body });
  for (let i = 0; i < counts.namespaces; i++) {
    const [fd] = (await call('AllocateUserNamespace', 'sua{sv}', [`held-${setup.tag}-${i}`, 0, {}])) as [number];
    kept.push(fd);
  }
  if (counts.attachments > 0) {
    const source = openDir(sourceDir(setup));
    kept.push(source);
    for (let i = 0; i < counts.attachments; i++) {
      const targetFd = openDir(attachTarget(setup, `held-${i}`));
      try {
        const [fd] = (await call('IdmapDirectory', 'ha{sv}', [source, { Mode: new dbus.Variant('s', 'identity'), AttachTo: new dbus.Variant('h', targetFd) }])) as [number];
        closeQuietly(fd);
      } finally {
        closeQuietly(targetFd);
      }
    }
  }
  return kept;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string' },
      method: { type: 'string', default: 'Ping' },
      connections: { type: 'string', default: '1' },
      calls: { type: 'string', default: '300' },
      warmup: { type: 'string', default: '20' },
      parent: { type: 'string' },
      image: { type: 'string' },
      destination: { type: 'string', default: NSMOUNTD },
      action: { type: 'string' },
      tag: { type: 'string', default: String(process.pid) },
      'hold-namespaces': { type: 'string', default: '0' },
      'hold-attachments': { type: 'string', default: '0' },
    },
  });
  const lines = readline.createInterface({ input: process.stdin });
  const stdinClosed = new Promise<void>((resolve) => lines.once('close', () => resolve()));
  const commands: string[] = [];
  const waiting: Array<(line: string | undefined) => void> = [];
  let closed = false;
  lines.on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter(line);
    else commands.push(line);
  });
  lines.once('close', () => {
    closed = true;
    for (const waiter of waiting.splice(0)) waiter(undefined);
  });
  const nextCommand = (): Promise<string | undefined> =>
    commands.length > 0 ? Promise.resolve(commands.shift()) : closed ? Promise.resolve(undefined) : new Promise((resolve) => waiting.push(resolve));
  const setup: Setup = { parent: values.parent, image: values.image, destination: values.destination!, tag: values.tag!, action: values.action };
  const holdCounts = { namespaces: Number(values['hold-namespaces']), attachments: Number(values['hold-attachments']) };
  if (holdCounts.namespaces > 0 || holdCounts.attachments > 0) {
    const bus = await connectBus({ address: values.address! });
    const kept = await hold(bus, setup, holdCounts);
    process.stdout.write(JSON.stringify({ held: true }) + '\n');
    await stdinClosed;
    for (const fd of kept) closeQuietly(fd);
    bus.disconnect();
    return;
  }

  const connections = Number(values.connections);
  const buses = await Promise.all(Array.from({ length: connections }, () => connectBus({ address: values.address! })));
  const warm: Samples = {};
  const samples: Samples = {};
  const warmCalls = buses.map((bus, i) => caller(bus, values.method!, { ...setup, tag: `${setup.tag}-w${i}` }, warm));
  const calls = buses.map((bus, i) => caller(bus, values.method!, { ...setup, tag: `${setup.tag}-${i}` }, samples));
  await Promise.all(warmCalls.map(async (one) => {
    for (let k = 0; k < Number(values.warmup); k++) await one();
  }));
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  // "go": --calls calls per connection, then exit. "go N": N calls per
  // connection and a result line, as often as asked, until stdin closes
  // (the scale section alternates two daemons every few dozen calls).
  for (;;) {
    const line = await nextCommand();
    if (line === undefined) break;
    const repeat = /^go (\d+)$/.exec(line);
    const perConnection = repeat ? Number(repeat[1]) : Number(values.calls);
    for (const key of Object.keys(samples)) delete samples[key];
    const start = nowMs();
    await Promise.all(calls.map(async (one) => {
      for (let k = 0; k < perConnection; k++) await one();
    }));
    const wallMs = nowMs() - start;
    process.stdout.write(JSON.stringify({ samples, calls: perConnection * connections, wallMs }) + '\n');
    if (!repeat) break;
  }
  lines.close();
  for (const bus of buses) bus.disconnect();
}

main().then(
  () => process.exit(0),
  (err: Error & { errorName?: string }) => {
    process.stdout.write(JSON.stringify({ fatal: `${err.errorName ?? ''} ${err.message}` }) + '\n');
    process.exit(2);
  },
);
