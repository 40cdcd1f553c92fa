// Which TOML keys exist, where each lands in Config and how it is checked.
// Anything not listed here is refused, so a typo cannot silently leave a
// default in force.
import { absolutePath, absolutePaths, boolean, integer, oneOf, Check } from './checks';
import { LOG_LEVELS, SETGROUPS_CHOICES, Config } from './types';
import { IO_CALLS_TOTAL } from '../native/threadpool';
import { BLOCK_SIZE } from '../userns/block';

/** Highest ID the kernel accepts in a map: (uid_t)-1 is "no ID". */
export const MAX_ID = 0xfffffffe;

export interface Setting {
  /** Property name inside the Config section. */
  prop: string;
  check: Check<unknown>;
}

type Schema = { [S in keyof Config]: Record<string, Setting> };

export const SCHEMA: Schema = {
  daemon: {
    state_dir: { prop: 'stateDir', check: absolutePath() },
    log_level: { prop: 'logLevel', check: oneOf(LOG_LEVELS) },
    idle_timeout_sec: { prop: 'idleTimeoutSec', check: integer({ min: 0 }) },
    registry_lock_timeout_sec: { prop: 'registryLockTimeoutSec', check: integer({ min: 1 }) },
    calls_per_uid: { prop: 'callsPerUid', check: integer({ min: 1 }) },
    io_timeout_sec: { prop: 'ioTimeoutSec', check: integer({ min: 1 }) },
    io_calls_per_uid: { prop: 'ioCallsPerUid', check: integer({ min: 1, max: IO_CALLS_TOTAL }) },
  },
  pool: {
    // IDs below 65536 are the host's own users and groups.
    first: { prop: 'first', check: integer({ min: BLOCK_SIZE, max: MAX_ID, multipleOf: BLOCK_SIZE }) },
    last: { prop: 'last', check: integer({ min: BLOCK_SIZE, max: MAX_ID }) },
    quota_per_uid: { prop: 'quotaPerUid', check: integer({ min: 1 }) },
    reclaim_interval_sec: { prop: 'reclaimIntervalSec', check: integer({ min: 1 }) },
    reuse_across_users: { prop: 'reuseAcrossUsers', check: boolean() },
    setgroups: { prop: 'setgroups', check: oneOf(SETGROUPS_CHOICES) },
  },
  images: {
    directories: { prop: 'directories', check: absolutePaths() },
  },
  mounts: {
    attachments_per_uid: { prop: 'attachmentsPerUid', check: integer({ min: 1 }) },
  },
};
