// Removing a test's temp dir: the daemon may have left mounts under it
// (that is sometimes the bug under test), and rm cannot cross them.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => unescapeMountinfo(line.split(' ')[4]))
    .filter((mp) => mp === dir || mp.startsWith(prefix));
}

export function removeTree(dir: string): void {
  // Deepest first; lazy so a busy mount does not stop the cleanup.
  for (const mp of mountsUnder(dir).sort((a, b) => b.length - a.length)) {
    try {
      execFileSync('umount', ['-l', mp], { stdio: 'ignore' });
    } catch {
      // Already gone with its parent.
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
