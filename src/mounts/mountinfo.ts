// /proc/PID/mountinfo, for finding where a mount of an earlier daemon run
// is now. It only carries the legacy (reusable) mount id, so a match here
// is a lead to verify by STATX_MNT_ID_UNIQUE, never proof.
import fs from 'node:fs';

export interface MountinfoEntry {
  mountId: number;
  parentId: number;
  /** "major:minor" of the filesystem. */
  device: string;
  /** Path inside the filesystem that is the mount's root. */
  root: string;
  mountPoint: string;
  mountOptions: string[];
  optionalFields: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

/** Undoes the kernel's octal escapes of space, tab, newline and backslash. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMountinfoLine(line: string): MountinfoEntry {
  const fields = line.split(' ');
  const separator = fields.indexOf('-', 6);
  if (fields.length < 10 || separator < 0 || fields.length < separator + 4) {
    throw new Error(`unexpected mountinfo line: ${JSON.stringify(line)}`);
  }
  return {
    mountId: Number(fields[0]),
    parentId: Number(fields[1]),
    device: fields[2],
    root: unescape(fields[3]),
    mountPoint: unescape(fields[4]),
    mountOptions: fields[5].split(','),
    optionalFields: fields.slice(6, separator),
    fsType: unescape(fields[separator + 1]),
    source: unescape(fields[separator + 2]),
    superOptions: fields[separator + 3].split(','),
  };
}

export function parseMountinfo(text: string): MountinfoEntry[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map(parseMountinfoLine);
}

export function findMountByIdInMountinfo(
  legacyMountId: number,
  options: { mountinfoPath?: string } = {},
): MountinfoEntry | undefined {
  const text = fs.readFileSync(options.mountinfoPath ?? '/proc/self/mountinfo', 'utf8');
  return parseMountinfo(text).find((entry) => entry.mountId === legacyMountId);
}
