// The fuzz client's attack on every mount it receives: from a user and
// mount namespace of its own, try to clear each flag with mount_setattr
// (test/clients/loosen-mount.py). Any success is a finding. One attacker
// runs at a time, so the fuzzer's own calls keep the machine's attention.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { LOOSEN_CLIENT, PYTHON, parseLoosen } from '../helpers/loosen';

const O_PATH = 0o10000000;

export class MountLoosener {
  private queue: Promise<void> = Promise.resolve();

  /**
   * Queues an attack on `fds` (not taken over: they are reopened here, and
   * may be closed at once); what the attacker managed, if anything, goes to `finding`.
   */
  attack(fds: number[], finding: (problem: string) => void): void {
    if (fds.length === 0) return;
    // Own references, so the pool may close the originals before our turn comes.
    const copies = fds.map((fd) => fs.openSync(`/proc/self/fd/${fd}`, O_PATH));
    this.queue = this.queue.then(() => this.run(copies, finding)).finally(() => copies.forEach((fd) => fs.closeSync(fd)));
  }

  /** Resolves once every queued attack has been judged. */
  drain(): Promise<void> {
    return this.queue;
  }

  private run(fds: number[], finding: (problem: string) => void): Promise<void> {
    const child = spawn(PYTHON, [LOOSEN_CLIENT, ...fds.map((_, i) => String(3 + i))], { stdio: ['ignore', 'pipe', 'pipe', ...fds] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return new Promise((resolve) => {
      child.on('error', (err) => {
        finding(`loosen-mount did not run: ${err.message}`);
        resolve();
      });
      child.on('close', () => {
        const report = parseLoosen(stdout);
        if (!report.fds) finding(`loosen-mount failed: ${report.error ?? stderr.trim()}`);
        for (const r of report.fds ?? []) {
          const succeeded = Object.entries(r.tries).filter(([, outcome]) => outcome === 'ok').map(([attempt]) => attempt);
          if (succeeded.length || r.loosened.length) {
            finding(`mount_setattr on a received mount: ${succeeded.join(', ')} succeeded; flags lost: ${r.loosened.join(',') || 'none'}`);
          }
        }
        resolve();
      });
    });
  }
}
