import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startCpuMeasure, type CpuSpent } from './daemon-cpu';

export interface ClientUser {
  uid: number;
  gid: number;
}

/**
 * Runs the bench client `script` (in bench/clients/, compiled) as `user`
 * (root when undefined) and returns the latency samples (ms) it prints as
 * its last JSON line.
 */
export function runSamplingClient(opts: { script: string; args: string[]; user?: ClientUser; label: string }): Promise<number[]> {
  const args = [path.resolve(__dirname, 'clients', opts.script), ...opts.args];
  const argv = opts.user
    ? ['setpriv', '--reuid', String(opts.user.uid), '--regid', String(opts.user.gid), '--clear-groups', '--', process.execPath, ...args]
    : [process.execPath, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', () => {
      try {
        const parsed = JSON.parse(out.trim().split('\n').pop() ?? '') as { samples?: number[]; error?: string };
        if (parsed.samples) resolve(parsed.samples);
        else reject(new Error(`${opts.label} client failed: ${parsed.error}`));
      } catch {
        reject(new Error(`${opts.label} client printed no result: ${out}`));
      }
    });
  });
}

/** bench/clients/bus-latency.js: one kind of call repeated. */
export function runBusLatencyClient(opts: {
  user?: ClientUser;
  address: string;
  kind: string;
  iterations: number;
  warmup?: number;
  tag: string;
  /** polkit action for --kind check-authorization. */
  action?: string;
}): Promise<number[]> {
  return runSamplingClient({
    script: 'bus-latency.js',
    user: opts.user,
    label: opts.kind,
    args: [
      '--address', opts.address,
      '--kind', opts.kind,
      '--iterations', String(opts.iterations),
      '--warmup', String(opts.warmup ?? 20),
      '--tag', opts.tag,
      ...(opts.action ? ['--action', opts.action] : []),
    ],
  });
}

export interface MultiCallSpec {
  address: string;
  user?: ClientUser;
  method: string;
  connections: number;
  /** Per connection. */
  calls: number;
  warmup?: number;
  parent?: string;
  image?: string;
  destination?: string;
  /** polkit action, for method CheckAuthorization. */
  action?: string;
  /** The process whose CPU time is read around the timed part. */
  daemonPid: number;
}

export interface MultiCallRun {
  samples: Record<string, number[]>;
  calls: number;
  wallMs: number;
  callsPerSecond: number;
  /** The daemon's CPU time over the timed part, per call. */
  daemonCpuMsPerCall: number;
  /** How that CPU time was read: exact (schedstat) unless a daemon thread exited during the run. */
  daemonCpu: CpuSpent;
  /** The daemon's CPU time over the timed part, in percent of one core. */
  daemonCpuPercent: number;
}

function multiCallArgv(spec: { address: string; user?: ClientUser }, args: string[]): string[] {
  const node = [process.execPath, path.resolve(__dirname, 'clients', 'multi-call.js'), '--address', spec.address, ...args];
  return spec.user ? ['setpriv', '--reuid', String(spec.user.uid), '--regid', String(spec.user.gid), '--clear-groups', '--', ...node] : node;
}

/** Starts the client and returns its JSON lines as they come. */
function startLines(argv: string[]): { child: ChildProcess; next: () => Promise<Record<string, unknown>> } {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin!.on('error', () => {});
  const queue: Array<Record<string, unknown>> = [];
  const waiters: Array<(line: Record<string, unknown>) => void> = [];
  let buffer = '';
  const push = (line: Record<string, unknown>) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else queue.push(line);
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      push(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>);
      buffer = buffer.slice(nl + 1);
    }
  });
  child.on('close', (code) => push({ fatal: `multi-call client exited with ${code}` }));
  const next = async () => {
    const line = queue.shift() ?? (await new Promise<Record<string, unknown>>((resolve) => waiters.push(resolve)));
    if (line.fatal) throw new Error(`multi-call client: ${String(line.fatal)}`);
    return line;
  };
  return { child, next };
}

function multiCallArgs(spec: MultiCallSpec): string[] {
  const args = ['--method', spec.method, '--connections', String(spec.connections), '--calls', String(spec.calls), '--warmup', String(spec.warmup ?? 20)];
  if (spec.parent) args.push('--parent', spec.parent);
  if (spec.image) args.push('--image', spec.image);
  if (spec.destination) args.push('--destination', spec.destination);
  if (spec.action) args.push('--action', spec.action);
  return args;
}

/** Sends `command` to a warmed-up client and reads the daemon's CPU around the calls it makes. */
async function timedRun(client: ReturnType<typeof startLines>, spec: MultiCallSpec, command: string): Promise<MultiCallRun> {
  const endCpu = startCpuMeasure(spec.daemonPid);
  client.child.stdin!.write(`${command}\n`);
  const result = (await client.next()) as { samples: Record<string, number[]>; calls: number; wallMs: number };
  const cpu = endCpu();
  if (cpu.clock === 'ticks') process.stderr.write(`bench: daemon CPU of a ${spec.method} run read in 10 ms clock ticks: ${cpu.reason}\n`);
  return {
    ...result,
    callsPerSecond: (result.calls * 1000) / result.wallMs,
    daemonCpuMsPerCall: cpu.ms / result.calls,
    daemonCpuPercent: (100 * cpu.ms) / result.wallMs,
    daemonCpu: cpu,
  };
}

/** One client process with `connections` connections; the daemon's CPU is read after warm-up and at the end. */
export async function runMultiCall(spec: MultiCallSpec): Promise<MultiCallRun> {
  const client = startLines(multiCallArgv(spec, multiCallArgs(spec)));
  try {
    await client.next();
    return await timedRun(client, spec, 'go');
  } finally {
    if (client.child.exitCode === null) client.child.kill('SIGKILL');
  }
}

export interface MultiCallSession {
  /** `calls` more calls per connection on the same warmed-up connections, with the daemon's CPU read around them. */
  run(calls: number): Promise<MultiCallRun>;
  close(): Promise<void>;
}

/**
 * A client that stays: warmed up once (spec.warmup), then timed in as
 * many short runs as asked. Two daemons can so take turns every few dozen
 * calls, each on a connection of its own that stays open, with no client
 * start-up between turns.
 */
export async function startMultiCall(spec: MultiCallSpec): Promise<MultiCallSession> {
  const client = startLines(multiCallArgv(spec, multiCallArgs(spec)));
  try {
    await client.next();
  } catch (err) {
    if (client.child.exitCode === null) client.child.kill('SIGKILL');
    throw err;
  }
  let queue: Promise<unknown> = Promise.resolve();
  return {
    run: (calls) => {
      const run = queue.then(() => timedRun(client, spec, `go ${calls}`));
      queue = run.catch(() => {});
      return run;
    },
    close: async () => {
      if (client.child.exitCode !== null) return;
      const closed = new Promise((resolve) => client.child.once('close', resolve));
      client.child.stdin!.end();
      await closed;
    },
  };
}

/** Makes live namespaces and attachments that stay until `release`. */
export async function holdState(spec: { address: string; user?: ClientUser; namespaces: number; attachments: number; parent?: string }): Promise<{ release: () => Promise<void> }> {
  const args = ['--hold-namespaces', String(spec.namespaces), '--hold-attachments', String(spec.attachments)];
  if (spec.parent) args.push('--parent', spec.parent);
  const client = startLines(multiCallArgv(spec, args));
  await client.next();
  return {
    release: async () => {
      const closed = new Promise((resolve) => client.child.once('close', resolve));
      client.child.stdin!.end();
      await closed;
    },
  };
}

/** bench/clients/bare-server.js owning `name`; its pid, for reading its CPU time. */
export async function startBareServer(address: string, name: string): Promise<{ pid: number; stop: () => Promise<void> }> {
  const client = startLines([process.execPath, path.resolve(__dirname, 'clients', 'bare-server.js'), '--address', address, '--name', name]);
  await client.next();
  return {
    pid: client.child.pid!,
    stop: async () => {
      const closed = new Promise((resolve) => client.child.once('close', resolve));
      client.child.stdin!.end();
      await closed;
    },
  };
}
