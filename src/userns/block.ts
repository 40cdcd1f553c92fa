// The pool is cut into whole 64K blocks aligned to 65536, whatever size a
// caller asks for, so blocks never straddle and exclusions are per block.
export const BLOCK_SIZE = 65536;

export function blockIndexOf(uid: number): number {
  return Math.floor(uid / BLOCK_SIZE);
}

export interface PoolRange {
  /** First uid of the pool, a multiple of 65536. */
  first: number;
  /** Last uid of the pool (inclusive). */
  last: number;
}

/** Block indices wholly inside the pool, in ascending order. */
export function poolBlockIndices(pool: PoolRange): { first: number; last: number } {
  const first = Math.ceil(pool.first / BLOCK_SIZE);
  const last = Math.floor((pool.last + 1) / BLOCK_SIZE) - 1;
  return { first, last };
}

/** Adds every block index that [start, start+count) touches. */
export function addRangeBlocks(into: Set<number>, start: number, count: number): void {
  if (count <= 0) return;
  const from = blockIndexOf(start);
  const to = blockIndexOf(start + count - 1);
  for (let b = from; b <= to; b++) into.add(b);
}
