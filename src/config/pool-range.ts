// Checks on the pool that involve both of its ends, so they can only be made
// once the file and all drop-ins are merged.
import { ConfigError, ConfigErrorLocation } from './error';
import { BLOCK } from './schema';
import type { Config } from './types';

/** systemd's foreign UID range (UIDS-GIDS.md): files of images owned by "someone else". */
export const FOREIGN_FIRST = 0x7ffe0000;
export const FOREIGN_LAST = 0x7ffeffff;

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
  if (pool.last - pool.first + 1 < BLOCK) {
    fail(`pool ${pool.first}..${pool.last} must hold at least one block of ${BLOCK} IDs`);
  }
  if (pool.first <= FOREIGN_LAST && pool.last >= FOREIGN_FIRST) {
    fail(`pool ${pool.first}..${pool.last} overlaps the foreign range ${FOREIGN_FIRST}..${FOREIGN_LAST}`);
  }
}
