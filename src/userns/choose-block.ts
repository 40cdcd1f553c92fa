import { BLOCK_SIZE, poolBlockIndices, type PoolRange } from './block';

export interface BlockChoice {
  base: number;
  /** The new never-used cursor (block index). */
  neverUsedFrom: number;
  /** Never-used blocks the cursor moved past because they were excluded: free, but no longer "never used". */
  skipped: number[];
}

/**
 * The least recently freed usable block, where never-used blocks count as
 * freed at the beginning of time (lowest first): reuse is delayed as long
 * as possible so a stale owner of a uid is unlikely to meet a new tenant.
 * Blocks at or above `neverUsedFrom` have never been handed out; below it,
 * free blocks are those in `leastRecentlyFreed`'s order.
 */
export function chooseBlock(opts: {
  pool: PoolRange;
  inUse: (blockIndex: number) => boolean;
  blocked: Set<number>;
  neverUsedFrom: number;
  leastRecentlyFreed: (usable: (base: number) => boolean) => number | undefined;
}): BlockChoice | undefined {
  const { first, last } = poolBlockIndices(opts.pool);
  const skipped: number[] = [];
  for (let b = Math.max(first, opts.neverUsedFrom); b <= last; b++) {
    if (opts.blocked.has(b) || opts.inUse(b)) {
      skipped.push(b);
      continue;
    }
    return { base: b * BLOCK_SIZE, neverUsedFrom: b + 1, skipped };
  }
  const base = opts.leastRecentlyFreed((candidate) => {
    const b = candidate / BLOCK_SIZE;
    return Number.isInteger(b) && b >= first && b <= last && !opts.blocked.has(b) && !opts.inUse(b);
  });
  // No never-used block is usable: move the cursor past the pool once, so
  // later calls do not rescan excluded blocks; those join the freed order.
  return base === undefined ? undefined : { base, neverUsedFrom: last + 1, skipped };
}
