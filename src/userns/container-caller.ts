// Callers whose uid is a container's id, not a user's. A process inside an
// allocated namespace reaches the bus with its host id BASE+k; were it
// served, one user would get a fresh quota (and own blocks) per uid it
// switches to inside its own namespace. Ids of the foreign range belong to
// container trees. Both are refused outright, NSS or not: systemd's
// nsresourced and mymachines make such ids resolvable without making them
// users.
import { isForeignId } from '../idmap/foreign-range';
import type { PoolRange } from './block';

/** Why `uid` may not call nsmountd, or undefined when it may. */
export function containerCallerRefusal(uid: number, pool: PoolRange): string | undefined {
  if (uid >= pool.first && uid <= pool.last) {
    return (
      `uid ${uid} lies in nsmountd's pool ${pool.first}..${pool.last}, the ids handed to user namespaces: ` +
      'calls from inside a container are refused (a real user with such a uid needs the pool moved: pool.first, pool.last)'
    );
  }
  if (isForeignId(uid)) {
    return `uid ${uid} lies in the foreign range, the ids of container trees: calls from inside a container are refused`;
  }
  return undefined;
}
