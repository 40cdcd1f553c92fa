import { BLOCK_SIZE, blockIndexOf, poolBlockIndices, type PoolRange } from './block';

/**
 * The least recently freed usable block: never-used blocks count as freed
 * at the beginning of time (lowest first), then freed blocks by age. Reuse
 * is delayed as long as possible so a stale uid owner is unlikely to meet
 * a new tenant. Returns the base uid, or undefined when nothing is free.
 */
export function chooseBlock(opts: {
  pool: PoolRange;
  inUse: Set<number>;
  blocked: Set<number>;
  freedAt: Record<string, number>;
}): number | undefined {
  const { first, last } = poolBlockIndices(opts.pool);
  const usable = (b: number) => !opts.inUse.has(b) && !opts.blocked.has(b);
  const freedIndices = new Set(Object.keys(opts.freedAt).map((base) => blockIndexOf(Number(base))));
  for (let b = first; b <= last; b++) {
    if (usable(b) && !freedIndices.has(b)) return b * BLOCK_SIZE;
  }
  let best: { base: number; at: number } | undefined;
  for (const [baseText, at] of Object.entries(opts.freedAt)) {
    const base = Number(baseText);
    const b = blockIndexOf(base);
    if (b < first || b > last || !usable(b)) continue;
    if (!best || at < best.at || (at === best.at && base < best.base)) best = { base, at };
  }
  return best?.base;
}
