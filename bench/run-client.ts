import { spawn } from 'node:child_process';
import path from 'node:path';

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
