// A process, running as a test user, that allocates namespaces and keeps
// them alive until released.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestUser } from './users';

export interface HeldResult {
  name: string;
  ok: boolean;
  base?: number;
  size?: number;
  error?: string;
  message?: string;
}

export interface Holder {
  /** The holder process (setpriv execs node in place, so this is the process holding the fds). */
  pid: number;
  results: HeldResult[];
  release(): Promise<void>;
}

const HOLD_CLIENT = path.resolve(__dirname, '../clients/hold-namespaces.js');

export function holdNamespaces(user: TestUser, address: string, names: string[], opts: { parallel?: boolean } = {}): Promise<Holder> {
  const child = spawn(
    'setpriv',
    ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups', '--', process.execPath, HOLD_CLIENT, '--address', address, '--names', names.join(','), ...(opts.parallel ? ['--parallel'] : [])],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const results: HeldResult[] = [];
  let buffer = '';
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffer.slice(0, nl)) as HeldResult & { done?: boolean; fatal?: string };
        buffer = buffer.slice(nl + 1);
        if (line.fatal) reject(new Error(line.fatal));
        else if (line.done) {
          resolve({
            pid: child.pid!,
            results,
            release: async () => {
              child.stdin!.end();
              await exited;
            },
          });
        } else results.push(line);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => reject(new Error(`holder exited with ${code} before finishing`)));
  });
}
