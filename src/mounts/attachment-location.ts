// Where a recorded attachment is mounted now, if anywhere. Kept apart from
// the registry of attachments (attachments.ts) because it asks the kernel,
// not the registry: statmount by unique id where there is one, else a
// path lookup in mountinfo. Reconcile and every record handed out use it.
import type { Logger } from 'pino';
import type { MountRecord } from '../registry/state';
import { closeQuietly } from '../native/fd';
import { AT_FDCWD, O_DIRECTORY, O_PATH, openAt } from '../native/dirfd';
import { mountIdsOf } from '../native/mount-api';
import type { MountinfoEntry } from './mountinfo';
import { mountPointOf } from '../native/statmount';
import { SystemError } from '../errors';
import { Errno } from '../native/errno';

/**
 * Where the record's mount is attached now, or null if it is not. With
 * a unique id, statmount answers exactly. Without one (kernels before
 * 6.8, or a record made there) only a path lookup is left; it keeps the
 * record whenever it cannot tell.
 */
export function whereNow(record: MountRecord, mountinfo: () => MountinfoEntry[], log: Logger): string | null {
  if (hasUniqueId(record)) {
    try {
      return mountPointOf(BigInt(record.mountId));
    } catch (err) {
      if (err instanceof SystemError && err.errno === Errno.ENOENT) return null;
      if (!(err instanceof SystemError && err.errno === Errno.ENOSYS)) {
        log.debug({ err, mountId: record.mountId }, 'statmount failed; the attachment is kept as it is');
        return record.target;
      }
    }
  }
  return stillMountedAtPath(record, mountinfo(), log) ? record.target : null;
}

/**
 * mountinfo only shows the reusable legacy id, so a match there is a
 * lead: a mount at the recorded place with the recorded legacy id. It is
 * refuted only when the mount found at that path has the legacy id but
 * another unique id (the id was recycled). A mount stacked on top hides
 * ours from the path lookup, so a mismatch of the legacy id proves
 * nothing and the record stays; keeping a stale record is harmless,
 * since Unmount verifies the unique id, while losing a live one would
 * leave its owner unable to unmount it.
 */
function stillMountedAtPath(record: MountRecord, mountinfo: MountinfoEntry[], log: Logger): boolean {
  const legacy = record.legacyMountId ?? legacyIdFromRecord(record);
  if (legacy === undefined) return true;
  if (!mountinfo.some((m) => m.mountId === legacy && m.mountPoint === record.target)) return false;
  let fd: number | undefined;
  try {
    fd = openAt(AT_FDCWD, record.target, O_PATH | O_DIRECTORY);
    const ids = mountIdsOf(fd);
    return !(ids.legacy === legacy && ids.unique !== 0n && ids.unique.toString() !== record.mountId);
  } catch (err) {
    log.debug({ err, target: record.target }, 'could not check an attachment; keeping its record');
    return true;
  } finally {
    closeQuietly(fd);
  }
}

/** Unique ids count up from 2^31, above every legacy id; a record of a kernel without them holds the legacy id. */
function hasUniqueId(record: MountRecord): boolean {
  if (record.legacyMountId !== undefined) return record.mountId !== String(record.legacyMountId);
  return BigInt(record.mountId) >= 2n ** 31n;
}

/** Kernels before 6.8 have no unique id, and the recorded id is the legacy one. */
function legacyIdFromRecord(record: MountRecord): number | undefined {
  const id = Number(record.mountId);
  return Number.isSafeInteger(id) && id < 2 ** 31 ? id : undefined;
}
