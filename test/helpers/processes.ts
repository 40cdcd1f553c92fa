// Whether processes are gone. A killed orphan stays a zombie until PID 1
// reaps it, which on some machines is late or never; a zombie runs nothing
// and holds nothing, so it counts as gone.
import fs from 'node:fs';

export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Live processes whose command line contains `needle` (e.g. a stack's temp dir). */
export function processesMentioning(needle: string): Array<{ pid: number; cmdline: string }> {
  const found: Array<{ pid: number; cmdline: string }> = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (cmdline.includes(needle) && isAlive(Number(entry))) found.push({ pid: Number(entry), cmdline });
  }
  return found;
}
