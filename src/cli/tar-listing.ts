// Reading an archive as the caller before anything is unpacked: which
// compression it uses (tar detects none on a pipe, which is how the
// archive reaches the unpacking tar), whether it is a tar archive at all,
// and the device nodes a user namespace cannot create. GNU tar lists those
// with a "major,minor" size; they are excluded from the extraction up front
// and reported, instead of failing it halfway.
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { CliError } from './errors';

export interface DeviceEntry {
  name: string;
  kind: 'character' | 'block';
  device: string;
}

// "crw-r--r-- 0/0    1,3 2024-01-01 00:00 ./dev/null"
const DEVICE_LINE = /^([cb])\S*\s+\S+\s+(\d+,\s*\d+)\s+\S+\s+\S+\s(.*)$/;

function parseDeviceEntries(listing: string): DeviceEntry[] {
  const found: DeviceEntry[] = [];
  for (const line of listing.split('\n')) {
    const m = DEVICE_LINE.exec(line);
    if (m) found.push({ kind: m[1] === 'c' ? 'character' : 'block', device: m[2].replace(/\s/g, ''), name: m[3] });
  }
  return found;
}

/** Compressions by their magic bytes, as GNU tar's options. */
const COMPRESSIONS: Array<{ magic: number[]; option: string; name: string }> = [
  { magic: [0x1f, 0x8b], option: '--gzip', name: 'gzip' },
  { magic: [0x42, 0x5a, 0x68], option: '--bzip2', name: 'bzip2' },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], option: '--xz', name: 'xz' },
  { magic: [0x28, 0xb5, 0x2f, 0xfd], option: '--zstd', name: 'zstd' },
];

// "ustar\0" (POSIX) or "ustar " (GNU) at offset 257 of the first header.
const USTAR_OFFSET = 257;

export interface ArchiveFormat {
  /** The tar option that decompresses it, or undefined for a plain tar. */
  decompress?: string;
  compression?: string;
}

/** Reads the archive's first bytes (without moving its offset). */
export function archiveFormat(fd: number, displayPath: string): ArchiveFormat {
  const head = Buffer.alloc(512);
  const n = fs.readSync(fd, head, 0, head.length, 0);
  for (const c of COMPRESSIONS) {
    if (n >= c.magic.length && c.magic.every((byte, i) => head[i] === byte)) return { decompress: c.option, compression: c.name };
  }
  if (n < head.length || head.toString('latin1', USTAR_OFFSET, USTAR_OFFSET + 5) !== 'ustar') {
    throw new CliError(`${displayPath} is not a tar archive (nor a gzip, bzip2, xz or zstd compressed one)`);
  }
  return {};
}

/** tar's complaint in one line, every line of it. */
function tarMessage(stderr: string): string {
  return stderr
    .trim()
    .split('\n')
    .map((line) => line.replace(/^tar: /, '').trim())
    .filter(Boolean)
    .join('; ');
}

/** Lists the archive as the caller (it may read it; the namespace's root may not). */
export function listDeviceEntries(archiveFd: number, format: ArchiveFormat, displayPath: string): DeviceEntry[] {
  const result = spawnSync(
    'tar',
    ['--list', '--verbose', '--numeric-owner', '--quoting-style=literal', ...(format.decompress ? [format.decompress] : []), '--file=-'],
    { stdio: [archiveFd, 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  if (result.error) throw new CliError(`cannot run tar: ${(result.error as NodeJS.ErrnoException).code ?? result.error.message}`);
  if (result.status !== 0) {
    const what = format.compression ? `${format.compression}-compressed archive` : 'archive';
    throw new CliError(`tar cannot read the ${what} ${displayPath}: ${tarMessage(result.stderr) || `exit status ${result.status}`}`);
  }
  return parseDeviceEntries(result.stdout);
}
