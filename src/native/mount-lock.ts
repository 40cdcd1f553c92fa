// Locked clones of detached mounts (native/mount_lock.c): flags the kernel
// will let no one clear, for mounts handed to callers who are not root.
import { nsm_lock_staging_new, nsm_lock_mount, nsm_lock_reap } from './bindings';
import { SystemError } from '../errors';

// Indexed by enum nsm_lock_step in native/mount_lock.c.
const STEP_NAMES = [
  'start mount lock child',
  'unshare the staging mount namespace',
  'make the staging namespace private',
  'make the staging tmpfs',
  'pivot into the staging tmpfs',
  'share the staging root',
  'make the lock user namespace',
  'make the lock mount namespace',
  'enter the staging mount namespace',
  'attach the mount for locking',
  'enter the lock mount namespace',
  'open_tree(OPEN_TREE_CLONE) of the locked copy',
  'make the locked clone private',
] as const;

export const LOCK_STEP_CLONE = STEP_NAMES.indexOf('open_tree(OPEN_TREE_CLONE) of the locked copy');

/** A lock step failed; `step` indexes what it was doing. */
export class MountLockError extends SystemError {
  constructor(
    errno: number,
    readonly step: number,
  ) {
    super(errno, STEP_NAMES[step] ?? `mount lock step ${step}`);
  }
}

export interface LockStaging {
  /** The staging mount namespace: a shared tmpfs root with an empty directory per lock child. */
  stagingFd: number;
  /**
   * A mount namespace owned by a user namespace with no ids mapped, whose
   * root is a slave of the staging root: what is attached there arrives
   * here with its flags locked.
   */
  lockNamespaceFd: number;
}

export function createLockStaging(): LockStaging {
  const lock: [number] = [-1];
  const step: [number] = [0];
  const fd = nsm_lock_staging_new(lock, step);
  if (fd < 0) throw new MountLockError(-fd, Number(step[0]));
  return { stagingFd: fd, lockNamespaceFd: Number(lock[0]) };
}

/**
 * Returns a locked clone of the detached mount tree `mountFd` (with its
 * submounts when `recursive`). `mountFd` is used up either way: close it.
 */
export function lockedClone(mountFd: number, staging: LockStaging, options: { recursive: boolean }): number {
  const step: [number] = [0];
  const fd = nsm_lock_mount(mountFd, staging.stagingFd, staging.lockNamespaceFd, options.recursive ? 1 : 0, step);
  if (fd < 0) throw new MountLockError(-fd, Number(step[0]));
  return fd;
}

/** Reaps lock children that have finished unmounting; returns how many are still busy. */
export function reapLockChildren(): number {
  return nsm_lock_reap();
}
