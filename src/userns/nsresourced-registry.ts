// systemd-nsresourced's registry (/run/systemd/nsresource/registry), read
// in full: the ids it handed out must never be ours too. Its layout, as
// systemd's userns-registry.c writes it:
//   i<inode>.userns       one JSON record per namespace: "start" (uid),
//                         "startGid" (absent in older versions: = start),
//                         "size" (absent or 0: no range), and "delegates",
//                         ranges delegated into it: [{start, startGid, size}]
//   n<name>.userns, u<uid>.userns, g<gid>.userns
//                         hard links to the record
//   u<uid>.delegate       a delegated range: {userns, start, startGid, size};
//   g<gid>.delegate       hard link to it
//   o<owner>.owns/        per-owner links to the records; lock
// Records are written atomically (a dotfile, then a rename), so any file we
// cannot read or parse is damage, not a write in progress: then nobody can
// tell which ids are taken, and the allocation is refused.
import fs from 'node:fs';
import path from 'node:path';
import { BLOCK_SIZE } from './block';
import { SystemError } from '../errors';
import { Errno } from '../native/errno';

export interface IdRange {
  start: number;
  count: number;
}

/** The registry exists but could not be read completely. */
export class NsresourcedRegistryUnreadable extends SystemError {
  constructor(errno: number, dir: string, what: string) {
    super(errno, `systemd-nsresourced's registry ${dir} cannot be read (${what}), so the ids it handed out are unknown; refusing to allocate`);
  }
}

function errnoOf(err: unknown): number {
  const code = (err as NodeJS.ErrnoException).code;
  return (code && (Errno as Record<string, number>)[code]) || Errno.EIO;
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const isSize = (v: unknown): v is number => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0x100000000);

/** Uid and gid ranges of one record ({start, startGid, size}); throws on a malformed one. */
function rangesOf(record: Record<string, unknown>): IdRange[] {
  const { start, startGid, size } = record;
  if (!isSize(size)) throw new Error('"size" is not a valid size');
  if (!size) return [];
  if (!isId(start)) throw new Error('"start" is not a valid id');
  if (startGid !== undefined && !isId(startGid)) throw new Error('"startGid" is not a valid id');
  return [
    { start, count: size },
    { start: startGid ?? start, count: size },
  ];
}

function parseFile(file: string): Record<string, unknown> {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not a JSON object');
  return json as Record<string, unknown>;
}

function rangesOfFile(name: string, file: string): IdRange[] {
  const record = parseFile(file);
  const ranges = rangesOf(record);
  if (name.endsWith('.userns') && record.delegates !== undefined && record.delegates !== null) {
    if (!Array.isArray(record.delegates)) throw new Error('"delegates" is not an array');
    for (const d of record.delegates as unknown[]) {
      if (typeof d !== 'object' || d === null) throw new Error('a delegate is not an object');
      ranges.push(...rangesOf(d as Record<string, unknown>));
    }
  }
  return ranges;
}

/**
 * Every uid and gid range nsresourced holds. A missing registry is an
 * empty one (no nsresourced); anything else unreadable throws
 * NsresourcedRegistryUnreadable. A damaged u<uid>/g<gid> file still
 * reserves the 64K range its name gives, the only size nsresourced hands
 * out besides 1; a damaged record that carries no id in its name throws.
 */
export function readNsresourcedRegistry(dir: string): IdRange[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new NsresourcedRegistryUnreadable(errnoOf(err), dir, `listing it: ${(err as NodeJS.ErrnoException).code}`);
  }
  const ranges: IdRange[] = [];
  for (const name of names) {
    if (name.startsWith('.') || !(name.endsWith('.userns') || name.endsWith('.delegate'))) continue;
    try {
      ranges.push(...rangesOfFile(name, path.join(dir, name)));
    } catch (err) {
      const byName = /^[ug](\d+)\.(userns|delegate)$/.exec(name);
      if (byName) {
        ranges.push({ start: Number(byName[1]), count: BLOCK_SIZE });
        continue;
      }
      const e = err as NodeJS.ErrnoException;
      throw new NsresourcedRegistryUnreadable(e.code ? errnoOf(err) : Errno.EBADMSG, dir, `${name}: ${e.code ?? e.message}`);
    }
  }
  return ranges;
}
