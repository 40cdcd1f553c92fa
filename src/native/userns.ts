import { NSM_USERNS_DENY_SETGROUPS, nsm_userns_new, nsm_userns_read_maps, nsm_userns_step_name } from './bindings';
import { InvalidArgument, SystemError } from '../errors';

/** One line of a uid_map/gid_map: `count` ids from `inside` map to `outside`. */
export interface IdMapEntry {
  inside: number;
  outside: number;
  count: number;
}

export interface CreateUserNamespaceOptions {
  /** Becomes the namespace owner (NS_GET_OWNER_UID): the creator's euid. */
  ownerUid: number;
  ownerGid: number;
  uidMap: IdMapEntry[];
  gidMap: IdMapEntry[];
  /**
   * "deny" writes /proc/PID/setgroups before gid_map, so nobody in the
   * namespace can call setgroups(), and so nobody can drop a supplementary
   * group that a file uses to deny them access. Default "allow".
   */
  setgroups?: 'allow' | 'deny';
}

export interface UserNamespaceMaps {
  uidMap: IdMapEntry[];
  gidMap: IdMapEntry[];
}

const MAX_ID = 0xffffffff; // (uid_t)-1 is "no id", so ids stop one below

function stepName(step: number): string {
  return nsm_userns_step_name(step) ?? `user namespace step ${step}`;
}

function checkStep(ret: number, step: number): number {
  if (ret < 0) throw new SystemError(-ret, stepName(step));
  return ret;
}

function validateId(value: unknown, argument: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= MAX_ID) {
    throw new InvalidArgument(argument, `must be an integer in [0, ${MAX_ID - 1}], got ${String(value)}`);
  }
  return value;
}

/** Checks each entry on its own; the kernel judges the set (overlaps, at most 340 lines). */
function validateIdMap(map: readonly IdMapEntry[], argument: string): void {
  if (!Array.isArray(map) || map.length === 0) {
    throw new InvalidArgument(argument, 'must be a non-empty array of entries');
  }
  map.forEach((entry, i) => {
    const where = `${argument}[${i}]`;
    validateId(entry?.inside, `${where}.inside`);
    validateId(entry?.outside, `${where}.outside`);
    const count = entry.count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count <= 0) {
      throw new InvalidArgument(`${where}.count`, `must be a positive integer, got ${String(count)}`);
    }
    // The kernel refuses ranges that wrap or reach (uid_t)-1.
    if (entry.inside + count > MAX_ID || entry.outside + count > MAX_ID) {
      throw new InvalidArgument(`${where}.count`, `range runs past ${MAX_ID - 1}`);
    }
  });
}

function formatIdMap(map: readonly IdMapEntry[]): string {
  return map.map((e) => `${e.inside} ${e.outside} ${e.count}\n`).join('');
}

/** Parses /proc/PID/uid_map text: whitespace-separated triples, one per line. */
function parseIdMap(text: string): IdMapEntry[] {
  const entries: IdMapEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length === 1 && fields[0] === '') continue;
    if (fields.length !== 3 || !fields.every((f) => /^\d+$/.test(f))) {
      throw new Error(`unexpected id map line: ${JSON.stringify(line)}`);
    }
    const [inside, outside, count] = fields.map(Number);
    entries.push({ inside, outside, count });
  }
  return entries;
}

/**
 * Returns an O_CLOEXEC fd to a new user namespace owned by `ownerUid`, with
 * the given maps written by the daemon (setgroups as `opts.setgroups` says).
 * The caller closes the fd.
 */
export function createUserNamespace(opts: CreateUserNamespaceOptions): number {
  validateId(opts.ownerUid, 'ownerUid');
  validateId(opts.ownerGid, 'ownerGid');
  validateIdMap(opts.uidMap, 'uidMap');
  validateIdMap(opts.gidMap, 'gidMap');
  const step: [number] = [0];
  const flags = opts.setgroups === 'deny' ? NSM_USERNS_DENY_SETGROUPS : 0;
  const fd = nsm_userns_new(opts.ownerUid, opts.ownerGid, formatIdMap(opts.uidMap), formatIdMap(opts.gidMap), flags, step);
  return checkStep(fd, step[0]);
}

// A map has at most 340 lines of at most 33 bytes each.
const MAP_BUFFER_SIZE = 16384;

/**
 * Reads the maps of any user namespace fd. "outside" is expressed in the
 * daemon's user namespace, also for namespaces nested deeper. Fails with
 * EINVAL for a non-user-namespace fd or the daemon's own user namespace.
 */
export function readUserNamespaceMaps(fd: number): UserNamespaceMaps {
  const uidBuf = Buffer.alloc(MAP_BUFFER_SIZE);
  const gidBuf = Buffer.alloc(MAP_BUFFER_SIZE);
  const step: [number] = [0];
  checkStep(nsm_userns_read_maps(fd, uidBuf, uidBuf.length, gidBuf, gidBuf.length, step), step[0]);
  const text = (buf: Buffer) => buf.toString('utf8', 0, buf.indexOf(0));
  return { uidMap: parseIdMap(text(uidBuf)), gidMap: parseIdMap(text(gidBuf)) };
}
