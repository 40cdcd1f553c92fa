// Mounts handed to callers who are not root leave with their flags locked
// (docs/SECURITY.md, "Mount flags are locked"): without it, such a caller
// clears nosuid, nodev, noexec or ro from its own user and mount namespace.
import { InvalidArgument } from '../errors';
import { Errno } from '../native/errno';
import { closeQuietly } from '../native/fd';
import { createLockStaging, lockedClone, LOCK_STEP_CLONE, MountLockError, reapLockChildren, type LockStaging } from '../native/mount-lock';

/** Made on first use and kept: the staging namespaces are reused by every call. */
let staging: LockStaging | undefined;
let reapTimer: NodeJS.Timeout | undefined;

/** Makes the staging namespaces now rather than at the first call (which would otherwise do it). */
export function prepareMountLocking(): void {
  staging ??= createLockStaging();
}

/** Only root gets a mount whose flags can still be changed. */
export function needsLockedFlags(callerUid: number): boolean {
  return callerUid !== 0;
}

export interface LockOptions {
  /**
   * Keep every submount (locked to its parent). Without it, a tree that
   * has mounts below its root is refused: leaving them out would show what
   * they cover.
   */
  recursive: boolean;
}

/**
 * Replaces the detached mount tree `mountFd` by a clone whose flags the
 * kernel lets no one clear. `mountFd` is closed in every case; the clone
 * is the caller's to close.
 */
export function lockMountFlags(mountFd: number, options: LockOptions): number {
  try {
    staging ??= createLockStaging();
    const locked = lockedClone(mountFd, staging, options);
    scheduleReap();
    return locked;
  } catch (err) {
    if (err instanceof MountLockError && err.step === LOCK_STEP_CLONE && err.errno === Errno.EINVAL && !options.recursive) {
      throw new InvalidArgument(
        'recursive',
        'the directory has mounts below it, which a clone without them would uncover; pass Recursive=true to take them along',
      );
    }
    throw err;
  } finally {
    closeQuietly(mountFd);
  }
}

/**
 * The lock child answers before it unmounts its staging copy; reap it
 * once it is done, rather than at the next call, so no zombie lingers.
 */
function scheduleReap(): void {
  if (reapTimer) return;
  reapTimer = setTimeout(() => {
    reapTimer = undefined;
    if (reapLockChildren() > 0) scheduleReap();
  }, 20);
  reapTimer.unref();
}
