// A test user's process on a bus, for tests that need a caller's unique
// name: the bus knows its credentials, and polkit its user.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestUser } from './users';

export interface BusPeer {
  /** Its unique name, e.g. ":1.7". */
  name: string;
  pid: number;
  /** Disconnects it and resolves once it exited. */
  leave(): Promise<void>;
}

const STAY_ON_BUS = path.resolve(__dirname, '../clients/stay-on-bus.js');

export function joinBus(user: TestUser, address: string): Promise<BusPeer> {
  const child = spawn('setpriv', ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups', '--', process.execPath, STAY_ON_BUS, '--address', address], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  // Leaving twice, or after it died, is no error.
  child.stdin!.on('error', () => {});
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!out.includes('\n')) return;
      resolve({
        name: out.trim(),
        pid: child.pid!,
        leave: async () => {
          child.stdin!.end();
          await exited;
        },
      });
    });
    void exited.then(() => reject(new Error(`the bus peer exited before naming itself: ${stderr}`)));
  });
}
