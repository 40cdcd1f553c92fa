// Starts many mixed-load clients (test/clients/mixed-load.ts) as test users,
// releases them together once all are warm, and merges what they report:
// per-method samples, unexpected answers and the throughput of the whole.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { PACKAGE_ROOT } from './paths';
import type { TestUser } from './users';
import type { LoadClientOutput, LoadMethod } from '../clients/mixed-load-protocol';

export { METHODS, type LoadMethod } from '../clients/mixed-load-protocol';
export const LOAD_CLIENT = path.join(PACKAGE_ROOT, 'dist/test/clients/mixed-load.js');

export interface LoadClientSpec {
  user: TestUser | 'root';
  /** "mixed" or a comma-separated list of method names. */
  methods: string;
  calls: number;
  warmup?: number;
  /** A directory the user owns, for MakeDirectory and IdmapDirectory. */
  parent?: string;
  /** A trusted ext4 image, for Mount. */
  image?: string;
}

export interface LoadRun {
  samples: Partial<Record<LoadMethod, number[]>>;
  errors: LoadClientOutput['errors'];
  errorCount: number;
  calls: number;
  /** From the first client's first timed call to the last client's last. */
  wallMs: number;
  callsPerSecond: number;
}

function argvFor(spec: LoadClientSpec, address: string, tag: string): string[] {
  const args = [LOAD_CLIENT, '--address', address, '--methods', spec.methods, '--calls', String(spec.calls), '--tag', tag, '--barrier'];
  if (spec.warmup !== undefined) args.push('--warmup', String(spec.warmup));
  if (spec.parent) args.push('--parent', spec.parent);
  if (spec.image) args.push('--image', spec.image);
  if (spec.user === 'root') return [process.execPath, ...args];
  const groups = spec.user.groups.length ? ['--groups', spec.user.groups.join(',')] : ['--clear-groups'];
  return ['setpriv', '--reuid', String(spec.user.uid), '--regid', String(spec.user.gid), ...groups, '--', process.execPath, ...args];
}

/** One client: resolves `ready` after its warm-up, `done` with its report. */
function startClient(argv: string[]): { child: ChildProcess; ready: Promise<void>; done: Promise<LoadClientOutput> } {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin!.on('error', () => {});
  let buffer = '';
  let markReady!: () => void;
  let fail!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => ((markReady = resolve), (fail = reject)));
  const done = new Promise<LoadClientOutput>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as Partial<LoadClientOutput> & { ready?: boolean; fatal?: string };
        buffer = buffer.slice(nl + 1);
        if (line.ready) markReady();
        else if (line.fatal) reject(new Error(`load client: ${line.fatal}`));
        else resolve(line as LoadClientOutput);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => reject(new Error(`load client exited with ${code} without a report`)));
  });
  done.catch((err: Error) => fail(err));
  // Awaited by the runner; these only keep a late failure of one client, after another already failed the run, from being unhandled.
  ready.catch(() => {});
  return { child, ready, done };
}

export async function runLoadClients(address: string, specs: LoadClientSpec[]): Promise<LoadRun> {
  const clients = specs.map((spec, i) => startClient(argvFor(spec, address, `${process.pid}-${Date.now()}-${i}`)));
  try {
    await Promise.all(clients.map((c) => c.ready));
    for (const c of clients) c.child.stdin!.end('go\n');
    const outputs = await Promise.all(clients.map((c) => c.done));
    return merge(outputs);
  } finally {
    for (const c of clients) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  }
}

function merge(outputs: LoadClientOutput[]): LoadRun {
  const samples: LoadRun['samples'] = {};
  for (const o of outputs) {
    for (const [method, list] of Object.entries(o.samples) as Array<[LoadMethod, number[]]>) (samples[method] ??= []).push(...list);
  }
  const calls = outputs.reduce((s, o) => s + o.calls, 0);
  const wallMs = Math.max(...outputs.map((o) => o.endMs)) - Math.min(...outputs.map((o) => o.startMs));
  return {
    samples,
    errors: outputs.flatMap((o) => o.errors),
    errorCount: outputs.reduce((s, o) => s + o.errorCount, 0),
    calls,
    wallMs,
    callsPerSecond: wallMs > 0 ? (calls * 1000) / wallMs : 0,
  };
}
