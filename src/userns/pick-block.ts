// Which block an allocation gets: chooseBlock's rules over the registry's
// state, with blocks the exclusion sources name (subuid files, NSS,
// nsresourced) left out, and a clear refusal when none is left.
import type { FreedBlocks } from '../registry/freed-blocks';
import { namespaceKey, type RegistryState } from '../registry/state';
import { RangeExhausted } from '../errors';
import { BLOCK_SIZE, blockIndexOf, poolBlockIndices, type PoolRange } from './block';
import { chooseBlock } from './choose-block';
import type { Exclusions } from './exclusions';

export interface PickOptions {
  pool: PoolRange;
  exclusions: Exclusions;
  reuseAcrossUsers: boolean;
  now: () => number;
  /** Frees the blocks of every namespace that is gone, for a second try. */
  sweepAll: () => void;
}

export function pickBlock(state: RegistryState, freed: FreedBlocks, requester: number, opts: PickOptions): number {
  const inUse = (b: number) => state.namespaces.has(namespaceKey(b * BLOCK_SIZE));
  const attempt = () => {
    const now = opts.now();
    const listed = opts.exclusions.blockedBlocks(now);
    // Looked up only for the candidates the choice gets to, in its order.
    const blocked = { has: (b: number) => listed.has(b) || opts.exclusions.knownToNss(b, now) };
    return chooseBlock({
      pool: opts.pool,
      requester,
      reuseAcrossUsers: opts.reuseAcrossUsers ?? false,
      inUse,
      blocked,
      neverUsedFrom: state.neverUsedFrom,
      leastRecentlyFreed: (usable, owner) => freed.pickLeastRecentlyFreed(usable, owner),
    });
  };
  let choice = attempt();
  if (choice === undefined) {
    opts.sweepAll();
    opts.exclusions.invalidate();
    choice = attempt();
  }
  if (choice === undefined) throw exhausted(freed, requester, inUse, opts);
  const now = opts.now();
  for (const b of choice.skipped) freed.markFreed(b * BLOCK_SIZE, now, 'none');
  state.neverUsedFrom = choice.neverUsedFrom;
  freed.take(choice.base);
  return choice.base;
}

/** Says why nothing is left, naming the blocks only other users may have. */
function exhausted(freed: FreedBlocks, requester: number, inUse: (blockIndex: number) => boolean, opts: PickOptions): RangeExhausted {
  const pool = `${opts.pool.first}..${opts.pool.last}`;
  const { first, last } = poolBlockIndices(opts.pool);
  const blocked = opts.exclusions.blockedBlocks(opts.now());
  let othersFree = 0;
  for (const [base, { owner }] of freed.entries()) {
    const b = blockIndexOf(base);
    if (b >= first && b <= last && !blocked.has(b) && !inUse(b) && owner !== requester && owner !== 'none') othersFree++;
  }
  if (othersFree === 0 || opts.reuseAcrossUsers) {
    return new RangeExhausted(`no free ${BLOCK_SIZE}-id block left in the pool ${pool}`);
  }
  return new RangeExhausted(
    `no block of the pool ${pool} is free for uid ${requester}: the ${othersFree} free ` +
      `block${othersFree === 1 ? ' was' : 's were'} last used by other users, and a block is never handed ` +
      `to another user (files its namespaces left behind would be theirs; pool.reuse_across_users allows it)`,
  );
}
