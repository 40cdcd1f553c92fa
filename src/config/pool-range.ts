// Checks on the pool that involve both of its ends, so they can only be made
// once the file and all drop-ins are merged.
import { ConfigError, ConfigErrorLocation } from './error';
import { BLOCK_SIZE } from '../userns/block';
import { FOREIGN_UID_BASE, FOREIGN_UID_COUNT } from '../idmap/foreign-range';
import type { Config } from './types';

const FOREIGN_FIRST = FOREIGN_UID_BASE;
const FOREIGN_LAST = FOREIGN_UID_BASE + FOREIGN_UID_COUNT - 1;

export interface PoolOrigins {
  /** Where pool.first / pool.last were last set; undefined = default. */
  first?: ConfigErrorLocation;
  last?: ConfigErrorLocation;
  /** Which of the two was set later, and so is the one that broke the pair. */
  later?: ConfigErrorLocation;
}

export function checkPoolRange(pool: Config['pool'], origins: PoolOrigins): void {
  // One of them must come from a file: the defaults are valid.
  const blame = origins.later ?? origins.last ?? origins.first;
  const fail = (problem: string) => {
    if (!blame) throw new Error(`default pool is invalid: ${problem}`);
    throw new ConfigError(blame, problem);
  };
  if (pool.last - pool.first + 1 < BLOCK_SIZE) {
    fail(`pool ${pool.first}..${pool.last} must hold at least one block of ${BLOCK_SIZE} IDs`);
  }
  if (pool.first <= FOREIGN_LAST && pool.last >= FOREIGN_FIRST) {
    fail(`pool ${pool.first}..${pool.last} overlaps the foreign range ${FOREIGN_FIRST}..${FOREIGN_LAST}`);
  }
}
