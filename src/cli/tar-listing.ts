// What an archive holds that a user namespace cannot create: device nodes.
// GNU tar lists them with a "major,minor" size; they are excluded from the
// extraction up front and reported, instead of failing it halfway.
import { spawnSync } from 'node:child_process';
import { CliError } from './errors';

export interface DeviceEntry {
  name: string;
  kind: 'character' | 'block';
  device: string;
}

// "crw-r--r-- 0/0    1,3 2024-01-01 00:00 ./dev/null"
const DEVICE_LINE = /^([cb])\S*\s+\S+\s+(\d+,\s*\d+)\s+\S+\s+\S+\s(.*)$/;

export function parseDeviceEntries(listing: string): DeviceEntry[] {
  const found: DeviceEntry[] = [];
  for (const line of listing.split('\n')) {
    const m = DEVICE_LINE.exec(line);
    if (m) found.push({ kind: m[1] === 'c' ? 'character' : 'block', device: m[2].replace(/\s/g, ''), name: m[3] });
  }
  return found;
}

/** Lists the archive as the caller (it may read it; the namespace's root may not). */
export function listDeviceEntries(archiveFd: number): DeviceEntry[] {
  const result = spawnSync('tar', ['--list', '--verbose', '--numeric-owner', '--quoting-style=literal', '--file=-'], {
    stdio: [archiveFd, 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw new CliError(`cannot run tar: ${(result.error as NodeJS.ErrnoException).code ?? result.error.message}`);
  if (result.status !== 0) {
    const reason = result.stderr.trim().split('\n').pop() ?? `exit status ${result.status}`;
    throw new CliError(`cannot read the archive: ${reason}`);
  }
  return parseDeviceEntries(result.stdout);
}
