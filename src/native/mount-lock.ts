// Locked clones of detached mounts (native/mount_lock.c): flags the kernel
// will let no one clear, for mounts handed to callers who are not root.
import { nsm_lock_staging_new, nsm_lock_mount, nsm_lock_reap, nsm_lock_step_name } from './bindings';
import { SystemError } from '../errors';

/** The number of the step with these words in enum nsm_lock_step (native/nsmount.h). */
function lockStep(words: string): number {
  for (let step = 0; ; step++) {
    const name = nsm_lock_step_name(step);
    if (name === words) return step;
    if (name === null) throw new Error(`native/nsmount.h has no mount lock step "${words}"`);
  }
}

/** Where EINVAL means a tree with submounts that a non-recursive clone refuses. */
export const LOCK_STEP_CLONE = lockStep('open_tree(OPEN_TREE_CLONE) of the locked copy');

/** A lock step failed; `step` indexes what it was doing. */
export class MountLockError extends SystemError {
  constructor(
    errno: number,
    readonly step: number,
  ) {
    super(errno, nsm_lock_step_name(step) ?? `mount lock step ${step}`);
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
