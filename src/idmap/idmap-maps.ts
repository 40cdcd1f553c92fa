// The maps of the throwaway user namespace attached to an idmapped mount.
// Direction (verified in test/idmap/idmap-directory.test.ts): the kernel
// reads an on-disk id as an id INSIDE the mount's user namespace and shows
// it as the OUTSIDE (host) id of that line. So a line reads
// "<on-disk id> <host id it appears as> <count>", and files created
// through the mount by host id H are stored as the inside id of H.
import { WrongNamespace } from '../errors';
import type { IdMapEntry } from '../native/userns';
import { FOREIGN_UID_BASE, FOREIGN_UID_COUNT } from './foreign-range';

/**
 * Foreign id FOREIGN_UID_BASE+k appears as whatever host id the target
 * namespace shows as k; for a target "0 B 65536" that is host B+k. Only the
 * part of 0..65535 the target maps is covered; the rest appears as the
 * overflow id.
 */
export function foreignIdmap(targetMap: readonly IdMapEntry[], what: 'uid' | 'gid'): IdMapEntry[] {
  const result: IdMapEntry[] = [];
  for (const entry of targetMap) {
    const start = Math.max(entry.inside, 0);
    const end = Math.min(entry.inside + entry.count, FOREIGN_UID_COUNT);
    if (start >= end) continue;
    result.push({ inside: FOREIGN_UID_BASE + start, outside: entry.outside + (start - entry.inside), count: end - start });
  }
  if (result.length === 0) {
    throw new WrongNamespace(`the target user namespace maps no ${what} in 0..${FOREIGN_UID_COUNT - 1}`);
  }
  return result.sort((a, b) => a.inside - b.inside);
}

/** The host id that `id` inside a namespace with `map` corresponds to, if mapped. */
export function hostIdOf(map: readonly IdMapEntry[], id: number): number | undefined {
  const entry = map.find((e) => id >= e.inside && id < e.inside + e.count);
  return entry === undefined ? undefined : entry.outside + (id - entry.inside);
}

/**
 * The single id `ownerId` (the directory owner's on-disk id) appears as
 * `hostId`; every other id appears as the overflow id.
 */
export function ownerIdmap(ownerId: number, hostId: number): IdMapEntry[] {
  return [{ inside: ownerId, outside: hostId, count: 1 }];
}

/** The host id of root in the target namespace, which the owner mode maps the directory owner to. */
export function targetRootHostId(targetMap: readonly IdMapEntry[], what: 'uid' | 'gid'): number {
  const hostId = hostIdOf(targetMap, 0);
  if (hostId === undefined) throw new WrongNamespace(`the target user namespace does not map ${what} 0`);
  return hostId;
}
