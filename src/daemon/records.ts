// The allocator and the attachments over one registry: at start-up,
// brought up to date with what ended while nsmountd was away, and swept
// periodically while it runs.
import type { Logger } from '../log';
import type { Config } from '../config';
import type { ChangeListener } from '../events/changes';
import { SystemError } from '../errors';
import { Attachments } from '../mounts/attachments';
import type { RegistryStore } from '../registry/store';
import { UserNamespaceAllocator } from '../userns/allocator';
import { Exclusions } from '../userns/exclusions';

export interface Records {
  allocator: UserNamespaceAllocator;
  attachments: Attachments;
}

export function startRecords(options: { store: RegistryStore; config: Config; log: Logger; changes: ChangeListener }): Records {
  const { store, config, log, changes } = options;
  const allocator = new UserNamespaceAllocator({
    changes,
    store,
    pool: { first: config.pool.first, last: config.pool.last },
    quotaPerUid: config.pool.quotaPerUid,
    reuseAcrossUsers: config.pool.reuseAcrossUsers,
    setgroups: config.pool.setgroups,
    exclusions: new Exclusions(),
    log,
  });
  try {
    const reclaimed = allocator.sweep();
    if (reclaimed) log.info({ reclaimed }, 'reclaimed blocks of namespaces that ended while nsmountd was away');
  } catch (err) {
    // A full or read-only state directory: allocations will fail with a
    // clear error, but listing and everything that records nothing still
    // works, and the periodic sweep tries again. Not starting helps no one.
    log.warn({ err: err instanceof SystemError ? err.message : err }, 'could not sweep for reclaimable blocks at start; will retry');
  }
  const attachments = new Attachments({ store, log, limitPerUid: config.mounts.attachmentsPerUid, changes });
  try {
    log.info(attachments.reconcile(), 'reconciled attachments with mountinfo');
  } catch (err) {
    // Stale entries are harmless (Unmount verifies the mount id); refusing to start is not.
    // A failed registry write (full or read-only state directory) is expected, not a bug: no stack.
    log.warn({ err: err instanceof SystemError ? err.message : err }, 'could not reconcile attachments with mountinfo; keeping the recorded ones');
  }
  return { allocator, attachments };
}

/** Reclaims blocks of ended namespaces and drops attachments unmounted behind our back, every `intervalSec`. */
export function startReclaimSweep(records: Records, options: { intervalSec: number; log: Logger }): NodeJS.Timeout {
  const { allocator, attachments } = records;
  const { log } = options;
  const timer = setInterval(() => {
    try {
      const freed = allocator.sweep();
      if (freed) log.debug({ freed }, 'reclaim sweep');
    } catch (err) {
      log.warn({ err }, 'reclaim sweep failed');
    }
    // Attachments unmounted behind our back are announced by this sweep at the latest.
    try {
      if (attachments.list().length > 0) attachments.reconcile();
    } catch (err) {
      log.warn({ err }, 'reconciling attachments failed');
    }
  }, options.intervalSec * 1000);
  timer.unref();
  return timer;
}
