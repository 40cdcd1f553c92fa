import { BLOCK_SIZE, poolBlockIndices, type PoolRange } from './block';
import type { BlockOwner } from '../registry/freed-blocks';

export interface BlockChoice {
  base: number;
  /** The new never-used cursor (block index). */
  neverUsedFrom: number;
  /** Never-used blocks the cursor moved past because they were excluded: free, but no longer "never used". */
  skipped: number[];
}

/**
 * Which free block `requester` gets. A namespace can leave files owned by
 * its host ids anywhere it can write (a setuid copy of a shell in /tmp),
 * so a block once handed to a user is only ever handed to that user again,
 * unless the site accepts reuse across users (`reuseAcrossUsers`). In order:
 *   1. the requester's own least recently freed block: it keeps the pool
 *      for others, as one user never holds more blocks than it once had
 *      namespaces at the same time;
 *   2. the lowest never-used block (at or above `neverUsedFrom`);
 *   3. a block the cursor passed without handing it out (owner 'none');
 *   4. only with `reuseAcrossUsers`: anyone's least recently freed block,
 *      so a stale owner of a uid is as unlikely as can be to meet a new
 *      tenant.
 */
export function chooseBlock(opts: {
  pool: PoolRange;
  requester: number;
  reuseAcrossUsers: boolean;
  inUse: (blockIndex: number) => boolean;
  blocked: { has(blockIndex: number): boolean };
  neverUsedFrom: number;
  /** Least recently freed block that `usable` accepts, last held by `owner` if given. */
  leastRecentlyFreed: (usable: (base: number) => boolean, owner?: BlockOwner) => number | undefined;
}): BlockChoice | undefined {
  const { first, last } = poolBlockIndices(opts.pool);
  const usable = (candidate: number) => {
    const b = candidate / BLOCK_SIZE;
    return Number.isInteger(b) && b >= first && b <= last && !opts.blocked.has(b) && !opts.inUse(b);
  };
  const own = opts.leastRecentlyFreed(usable, opts.requester);
  if (own !== undefined) return { base: own, neverUsedFrom: opts.neverUsedFrom, skipped: [] };

  const skipped: number[] = [];
  for (let b = Math.max(first, opts.neverUsedFrom); b <= last; b++) {
    if (opts.blocked.has(b) || opts.inUse(b)) {
      skipped.push(b);
      continue;
    }
    return { base: b * BLOCK_SIZE, neverUsedFrom: b + 1, skipped };
  }
  // No never-used block is usable: move the cursor past the pool once, so
  // later calls do not rescan excluded blocks; those join the freed order.
  const base =
    opts.leastRecentlyFreed(usable, 'none') ?? (opts.reuseAcrossUsers ? opts.leastRecentlyFreed(usable) : undefined);
  return base === undefined ? undefined : { base, neverUsedFrom: last + 1, skipped };
}
