// Attaching a detached mount at a caller's directory, and detaching it again
// for Unmount. There is no umount-by-fd: Unmount opens the mount's root,
// verifies its unique mount id is the one recorded at attach time, and
// unmounts through that fd's /proc/self/fd link, so the check and the
// unmount act on the same mount.
import fs from 'node:fs';
import path from 'node:path';
import { AlreadyMounted, NotEmpty, NotFound, NotOwner, SystemError, WrongNamespace } from '../errors';
import { Errno } from '../native/errno';
import { closeQuietly, withOwnFd } from '../native/fd';
import {
  AT_FDCWD,
  isDirectoryEmpty,
  isDirectoryEmptyOffThread,
  O_DIRECTORY,
  O_PATH,
  openAt,
  dirfdSteps as step,
} from '../native/dirfd';
import { runSteps, runStepsOffThread, type Steps } from '../native/syscall-steps';
import { mayWaitForServer } from '../native/file-system-server';
import type { OffThread } from '../native/off-thread';

// For the method layer, which reaches native code only through domain modules.
export type { OffThread };
import { detachMountOfFd, isMountRoot, mountIdOf, mountIdsOf, moveMountTo, type MountIds } from '../native/mount-api';
import { requireDirectory } from '../idmap/file-kind';
import { directoryPath } from '../polkit/fd-path';
import { parseMountinfo } from './mountinfo';
import { mountPointOf } from '../native/statmount';

/**
 * A mount target must be an empty directory the caller owns (root: any)
 * with nothing mounted on it, so attaching hides nothing and mounts over
 * nothing that is not the caller's.
 *
 * Looking into the directory (its entries, its name from its parent) asks
 * its file system. On FUSE or NFS, whose server the caller may keep from
 * answering, that runs on `offThread` within its time limit, and the
 * check returns a promise; elsewhere it is done when it returns.
 */
export function checkAttachTarget(fd: number, callerUid: number, offThread?: OffThread): void | Promise<void> {
  const stats = requireDirectory(fd, 'target');
  if (callerUid !== 0 && stats.uid !== callerUid) {
    throw new NotOwner(`the target directory is owned by uid ${stats.uid}, not by the caller`);
  }
  if (!inOwnMountNamespace(fd)) {
    throw new WrongNamespace(
      "the target directory is in another mount namespace than nsmountd's; attach the returned mount fd yourself there",
    );
  }
  if (isMountRoot(fd)) throw alreadyMounted();
  if (offThread && mayWaitForServer(fd)) {
    return offThread.run({
      uid: callerUid,
      what: "The target directory's file system",
      work: (signal) =>
        withOwnFd(fd, async (own) => {
          if (await runStepsOffThread(overmountedSteps(own), signal)) throw alreadyMounted();
          if (!signal.aborted && !(await isDirectoryEmptyOffThread(own))) throw notEmpty();
        }),
    });
  }
  if (runSteps(overmountedSteps(fd))) throw alreadyMounted();
  if (!isDirectoryEmpty(fd)) throw notEmpty();
}

/** Calls attaching at a directory (by its dev:ino) right now, each waiting for the one before. */
const targetsInUse = new Map<string, Promise<void>>();

export interface FinalCheck {
  targetFd: number;
  callerUid: number;
  offThread?: OffThread;
  /** What a failed check is thrown as (the method names its argument). */
  checkFailed?: (err: unknown) => unknown;
}

/**
 * The last look at an attach target (checkAttachTarget: still empty, not
 * mounted over) and `attach`, which must record and attach without
 * yielding, done as one step with respect to every other call attaching
 * at the same directory. On a target whose look runs on the pool (FUSE,
 * NFS), two calls could otherwise both pass their look and then both
 * attach, the second mount stacked on the first. Only calls for the same
 * directory wait for each other, and nothing else is held meanwhile (not
 * the registry lock, which everyone's calls need); a look that never ends
 * gives up after the pool's time limit, which bounds the wait of the calls
 * queued behind it. Done at once, without yielding, when the look needs
 * no pool and nobody else is attaching there.
 */
export function attachAfterFinalCheck<T>(check: FinalCheck, attach: () => T): T | Promise<T> {
  const checkFailed = check.checkFailed ?? ((err: unknown) => err);
  const key = targetKey(check.targetFd, checkFailed);
  const offThread = check.offThread && mayWaitForServer(check.targetFd) ? check.offThread : undefined;
  if (!offThread && !targetsInUse.has(key)) {
    try {
      checkAttachTarget(check.targetFd, check.callerUid);
    } catch (err) {
      throw checkFailed(err);
    }
    return attach();
  }
  const before = targetsInUse.get(key);
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const queue = before ? before.then(() => mine) : mine;
  targetsInUse.set(key, queue);
  const run = async (): Promise<T> => {
    try {
      await before;
      try {
        await checkAttachTarget(check.targetFd, check.callerUid, check.offThread);
      } catch (err) {
        throw checkFailed(err);
      }
      return attach();
    } finally {
      done();
      if (targetsInUse.get(key) === queue) targetsInUse.delete(key);
    }
  };
  return run();
}

function targetKey(fd: number, checkFailed: (err: unknown) => unknown): string {
  try {
    const stats = requireDirectory(fd, 'target');
    return `${stats.dev}:${stats.ino}`;
  } catch (err) {
    throw checkFailed(err);
  }
}

const alreadyMounted = () => new AlreadyMounted('the target directory is already a mount point');
const notEmpty = () => new NotEmpty('the target directory is not empty');

/**
 * move_mount only attaches within the daemon's own mount namespace (it
 * fails with a bare EINVAL otherwise). statmount looks a unique mount id
 * up in the daemon's own namespace only, so it finds the target's mount
 * exactly when that is ours, at the same cost however many mounts there
 * are. Before Linux 6.8 (no unique ids, no statmount) our mountinfo must
 * list the legacy id, which is unique system-wide too.
 */
function inOwnMountNamespace(fd: number): boolean {
  const { legacy, unique } = mountIdsOf(fd);
  if (unique !== 0n) {
    try {
      mountPointOf(unique);
      return true;
    } catch (err) {
      if (!(err instanceof SystemError)) throw err;
      if (err.errno === Errno.ENOENT) return false;
      if (err.errno !== Errno.ENOSYS) throw err;
    }
  }
  return parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.mountId === legacy);
}

/**
 * An fd opened before something was mounted on its directory still shows
 * the directory underneath, and move_mount would stack on top of that
 * other mount. Looking the name up again from the parent crosses into
 * whatever is mounted there now.
 */
function* overmountedSteps(fd: number): Steps<boolean> {
  const name = path.basename(directoryPath(fd));
  const parent: number = yield step.openAt(fd, '..', O_PATH | O_DIRECTORY);
  let again: number | undefined;
  try {
    again = yield step.openAt(parent, name, O_PATH | O_DIRECTORY);
    return mountIdOf(again) !== mountIdOf(fd);
  } catch {
    // Renamed or removed meanwhile: nothing found mounted on it.
    return false;
  } finally {
    closeQuietly(again);
    closeQuietly(parent);
  }
}

/** Attaches `mountFd` at `targetFd`; returns the ids the attached mount keeps. */
export function attachMount(mountFd: number, targetFd: number): MountIds {
  moveMountTo(mountFd, targetFd);
  return mountIdsOf(mountFd);
}

export type DetachRequest = ({ targetFd: number; path?: never } | { path: string; targetFd?: never }) & {
  /** The id recorded at attach time (unique id, see mountIdOf). */
  expectedMountId: bigint;
};

/**
 * Unmounts (MNT_DETACH) the mount nsmountd attached, given its root as an
 * fd or a path. Throws NotFound unless the mount found there is the
 * expected one, so a recycled path or a mount stacked on top is never hit.
 */
export function detachAttachedMount(request: DetachRequest): void {
  const fd = request.targetFd ?? openMountPoint(request.path!);
  try {
    if (!isMountRoot(fd) || mountIdOf(fd) !== request.expectedMountId) {
      throw new NotFound('what nsmountd attached there is no longer mounted there');
    }
    detachMountOfFd(fd);
  } finally {
    if (request.targetFd === undefined) closeQuietly(fd);
  }
}

function openMountPoint(mountPoint: string): number {
  try {
    return openAt(AT_FDCWD, mountPoint, O_PATH | O_DIRECTORY);
  } catch (err) {
    if (err instanceof SystemError && err.errno === Errno.ENOENT) {
      throw new NotFound(`what nsmountd attached at ${mountPoint} is gone: the directory does not exist any more`);
    }
    throw err;
  }
}
