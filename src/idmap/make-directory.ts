// MakeDirectory: a new directory owned by the foreign range's root, which
// a caller can later idmap into a user namespace of theirs. The directory
// is built under a hidden temporary name and renamed into place, so the
// requested name never shows a half-made (root-owned) directory.
import { randomBytes } from 'node:crypto';
import { Exists, SystemError } from '../errors';
import { Errno } from '../native/errno';
import { closeQuietly } from '../native/fd';
import { fchmod, fchown, mkdirAt, O_DIRECTORY, O_RDONLY, openAt, renameNoReplace, unlinkAt } from '../native/dirfd';
import { validateComponentName } from './component-name';
import { requireDirectory } from './file-kind';
import { FOREIGN_UID_BASE } from './foreign-range';

export const DEFAULT_DIRECTORY_MODE = 0o755;
// No setuid/setgid/sticky and never world-writable: the directory is
// handed to a container's root, others at most look inside.
const MODE_MASK = 0o775;

export interface MakeDirectoryOptions {
  mode?: number;
}

/**
 * Creates `name` in the directory `parentFd` owned by foreign uid/gid 0 and
 * returns an O_RDONLY|O_DIRECTORY|O_CLOEXEC fd of it. The fd is opened
 * before the rename, so it is the directory made here even if the name is
 * swapped right after.
 */
export function makeForeignDirectory(parentFd: number, name: string, options: MakeDirectoryOptions = {}): number {
  validateComponentName(name, 'name');
  requireDirectory(parentFd, 'parent');
  const mode = (options.mode ?? DEFAULT_DIRECTORY_MODE) & MODE_MASK;

  const temporaryName = `.#nsmountd-${randomBytes(8).toString('hex')}`;
  // 0700 until the rename: nobody can enter it while it is still root's.
  mkdirAt(parentFd, temporaryName, 0o700);
  let fd: number | undefined;
  try {
    fd = openAt(parentFd, temporaryName, O_RDONLY | O_DIRECTORY);
    fchown(fd, FOREIGN_UID_BASE, FOREIGN_UID_BASE);
    // After chown, which may clear mode bits.
    fchmod(fd, mode);
    try {
      renameNoReplace(parentFd, temporaryName, parentFd, name);
    } catch (err) {
      if (err instanceof SystemError && err.errno === Errno.EEXIST) throw new Exists(`"${name}" already exists`);
      throw err;
    }
    return fd;
  } catch (err) {
    closeQuietly(fd);
    try {
      unlinkAt(parentFd, temporaryName, { dir: true });
    } catch {
      // The first error is the one to report.
    }
    throw err;
  }
}

/** Whether `uid` owns the directory `fd` refers to. */
export function callerOwnsDirectory(fd: number, uid: number): boolean {
  return requireDirectory(fd, 'directory').uid === uid;
}
