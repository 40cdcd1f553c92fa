// MakeDirectory: a new directory owned by the foreign range's root, which
// a caller can later idmap into a user namespace of theirs.
//
// The parent belongs to the caller, who can rename or exchange
// (renameat2 RENAME_EXCHANGE) any entry in it at any moment, so no name
// in it is trusted between two syscalls. The directory is made inside a
// staging directory that only root can change: a root-owned directory
// without group or other permissions, created in the parent under a
// hidden name and verified through an fd before anything is made in it.
// Whatever the caller swaps in place of the staging name fails that check
// (only root makes root-owned directories, and one can only be moved
// between directories by someone with write permission on it), so the
// inode chowned is always the one created inside the staging directory,
// looked up where nobody else can rename. It is renamed into place only
// once it has its owner and mode, so @name never shows a half-made
// (root-owned) directory.
import { randomUUID } from 'node:crypto';
import type { CachedStat } from '../native/stat';
import { Exists, SystemError } from '../errors';
import { Errno } from '../native/errno';
import { closeQuietly, withOwnFd } from '../native/fd';
import { dirfdSteps as step, fstatFd, O_DIRECTORY, O_PATH, O_RDONLY } from '../native/dirfd';
import { runSteps, runStepsOffThread, type Steps } from '../native/syscall-steps';
import { mayWaitForServer } from '../native/file-system-server';
import type { OffThread } from '../native/off-thread';

// For the method layer, which reaches native code only through domain modules.
export type { OffThread };
import { validateComponentName } from './component-name';
import { requireDirectory } from './file-kind';
import { FOREIGN_UID_BASE } from './foreign-range';

export const DEFAULT_DIRECTORY_MODE = 0o755;
// No setuid/setgid/sticky and never world-writable: the directory is
// handed to a container's root, others at most look inside.
const MODE_MASK = 0o775;
/** The one entry ever made in a staging directory. */
const INNER_NAME = 'd';

export interface MakeDirectoryOptions {
  mode?: number;
}

interface Staging {
  name: string;
  fd: number;
  stats: CachedStat;
}

/** The staging name was renamed or exchanged by someone else before the daemon opened it. */
export class StagingReplaced extends SystemError {
  constructor() {
    super(Errno.EAGAIN, 'parent: the temporary directory was replaced by another entry before it was opened; nothing was changed');
  }
}

/**
 * Creates `name` in the directory `parentFd` owned by foreign uid/gid 0 and
 * returns an O_RDONLY|O_DIRECTORY|O_CLOEXEC fd of it. The fd is opened
 * before the rename, so it is the directory made here even if the name is
 * swapped right after.
 */
export function makeForeignDirectory(parentFd: number, name: string, options: MakeDirectoryOptions = {}): number {
  return runSteps(makeForeignDirectorySteps(parentFd, name, options));
}

/** Where MakeDirectory runs when its parent's file system may keep it waiting. */
export interface OffThreadWork {
  offThread: OffThread;
  /** The caller, whose share of the pool it uses. */
  uid: number;
}

/**
 * makeForeignDirectory, on `work.offThread` when the parent is on a file
 * system that may keep it waiting for a server (FUSE, NFS), else at once.
 */
export function makeForeignDirectoryFor(parentFd: number, name: string, options: MakeDirectoryOptions, work?: OffThreadWork): number | Promise<number> {
  if (!work || !mayWaitForServer(parentFd)) return makeForeignDirectory(parentFd, name, options);
  return work.offThread.run({
    uid: work.uid,
    what: "The parent directory's file system",
    work: (signal) => makeForeignDirectoryOffThread(parentFd, name, options, signal),
    // Made after the call gave up: the caller gets no fd of it.
    abandoned: (fd) => closeQuietly(fd),
  });
}

/**
 * makeForeignDirectory with every call into the parent's file system on
 * libuv's pool, for a parent on FUSE or NFS whose server may not answer.
 * Once `signal` aborts it stops before its next step, after cleaning up.
 */
export function makeForeignDirectoryOffThread(parentFd: number, name: string, options: MakeDirectoryOptions, signal: AbortSignal): Promise<number> {
  return withOwnFd(parentFd, (own) => runStepsOffThread(makeForeignDirectorySteps(own, name, options), signal));
}

function* makeForeignDirectorySteps(parentFd: number, name: string, options: MakeDirectoryOptions): Steps<number> {
  validateComponentName(name, 'name');
  const parent = requireDirectory(parentFd, 'parent');
  const mode = (options.mode ?? DEFAULT_DIRECTORY_MODE) & MODE_MASK;

  const staging = yield* makeStagingDirectory(parentFd, parent);
  try {
    return yield* makeInside(staging, parentFd, name, mode);
  } finally {
    yield* removeStagingDirectory(parentFd, staging);
    closeQuietly(staging.fd);
  }
}

function* makeStagingDirectory(parentFd: number, parent: CachedStat): Steps<Staging> {
  // Unguessable, so nobody can take the name first and make the call fail.
  // randomUUID draws from a cached block of the CSPRNG's output: 6% of a
  // root MakeDirectory's time on Node's thread went to randomBytes(8).
  const name = `.#nsmountd-${randomUUID()}`;
  yield step.mkdirAt(parentFd, name, 0o700);
  let fd: number;
  try {
    fd = yield step.openAt(parentFd, name, O_RDONLY | O_DIRECTORY);
  } catch (err) {
    // Gone (ENOENT), or a symlink (ELOOP) or file (ENOTDIR) swapped in.
    if (err instanceof SystemError && [Errno.ENOENT, Errno.ELOOP, Errno.ENOTDIR].includes(err.errno)) {
      throw new StagingReplaced();
    }
    // The name is still ours unless someone swapped it, and then it is
    // removed only if it is an empty directory its swapper could remove.
    yield* bestEffortRemove(parentFd, name);
    throw err;
  }
  try {
    const stats = fstatFd(fd);
    const rootOnly = stats.uid === 0 && (stats.mode & 0o077) === 0 && stats.dev === parent.dev;
    if (!rootOnly || (yield step.isDirectoryEmpty(fd)) !== 1) throw new StagingReplaced();
    return { name, fd, stats };
  } catch (err) {
    // Not ours: nothing is removed by a name that now means something else.
    closeQuietly(fd);
    throw err;
  }
}

function* makeInside(staging: Staging, parentFd: number, name: string, mode: number): Steps<number> {
  yield step.mkdirAt(staging.fd, INNER_NAME, 0o700);
  let fd: number | undefined;
  try {
    fd = yield step.openAt(staging.fd, INNER_NAME, O_RDONLY | O_DIRECTORY);
    yield step.fchown(fd, FOREIGN_UID_BASE, FOREIGN_UID_BASE);
    // After chown, which may clear mode bits.
    yield step.fchmod(fd, mode);
    try {
      yield step.renameNoReplace(staging.fd, INNER_NAME, parentFd, name);
    } catch (err) {
      if (err instanceof SystemError && err.errno === Errno.EEXIST) throw new Exists(`"${name}" already exists`);
      throw err;
    }
    return fd;
  } catch (err) {
    closeQuietly(fd);
    yield* bestEffortRemove(staging.fd, INNER_NAME);
    throw err;
  }
}

/**
 * Removes the staging directory if its name still refers to it. Should
 * the name be swapped between the check and the rmdir, what is removed is
 * an empty directory whose swapper could have removed it: rename and
 * rmdir need the same permission on the entry.
 */
function* removeStagingDirectory(parentFd: number, staging: Staging): Steps<void> {
  let fd: number | undefined;
  try {
    fd = yield step.openAt(parentFd, staging.name, O_PATH | O_DIRECTORY);
    const now = fstatFd(fd);
    if (now.dev === staging.stats.dev && now.ino === staging.stats.ino) yield step.unlinkAt(parentFd, staging.name, { dir: true });
  } catch {
    // Renamed away by the caller: an empty root-owned directory in the
    // caller's own directory, which the caller may remove.
  } finally {
    closeQuietly(fd);
  }
}

function* bestEffortRemove(dirFd: number, name: string): Steps<void> {
  try {
    yield step.unlinkAt(dirFd, name, { dir: true });
  } catch {
    // The first error is the one to report.
  }
}

/** Whether `uid` owns the directory `fd` refers to. */
export function callerOwnsDirectory(fd: number, uid: number): boolean {
  return requireDirectory(fd, 'directory').uid === uid;
}
