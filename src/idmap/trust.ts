// Whether an IdmapDirectory request stays within what the caller could do
// anyway. The method layer turns "untrusted" into a polkit action that
// needs an administrator. As with systemd-mountfsd's MountDirectory, a
// foreign-owned tree is the caller's when the caller owns a directory
// above it on the same mount: only then did the caller put it there (or
// could remove it), and no mount boundary can splice in someone else's tree.
//
// Walking ".." asks the file system on FUSE with default_permissions (the
// kernel refreshes each directory's attributes from the server to check
// search permission) and on NFS (the parent is revalidated after the walk;
// RESOLVE_CACHED does not prevent that). There the walk runs off Node's
// thread within the call's time limit, and a server that does not answer
// gives Unavailable: never "trusted", and never "untrusted" either, which
// would ask for an administrator over what is only a slow server. On a
// local file system it runs at once, as cheap as before.
import { closeQuietly, withOwnFd } from '../native/fd';
import { dirfdSteps as step, O_DIRECTORY, O_PATH } from '../native/dirfd';
import { isMountRoot, mountIdOf } from '../native/mount-api';
import { mayWaitForServer } from '../native/file-system-server';
import type { OffThread } from '../native/off-thread';
import { runSteps, runStepsOffThread, type Steps } from '../native/syscall-steps';
import { fstatArgument, requireDirectory } from './file-kind';
import { isForeignId } from './foreign-range';
import type { IdmapMode } from './idmap-directory';

export const MAX_ANCESTOR_LEVELS = 16;

export interface TrustDecision {
  trusted: boolean;
  /** For logs and polkit details; says what was found. */
  reason: string;
}

export interface IdmapTrustRequest {
  directoryFd: number;
  callerUid: number;
  mode: IdmapMode;
}

/** Where the ancestor walk runs when the directory's file system may keep it waiting for a server. */
export interface TrustWork {
  offThread: OffThread;
  /** The caller, whose share of the pool it uses. */
  uid: number;
}

/**
 * The decision, at once, or as a promise when the ancestor walk must run
 * on `work.offThread` (the directory is on a file system that may keep it
 * waiting: FUSE, NFS). Without `work` the walk always runs at once.
 */
export function classifyIdmapRequest(request: IdmapTrustRequest): TrustDecision;
export function classifyIdmapRequest(request: IdmapTrustRequest, work?: TrustWork): TrustDecision | Promise<TrustDecision>;
export function classifyIdmapRequest(request: IdmapTrustRequest, work?: TrustWork): TrustDecision | Promise<TrustDecision> {
  const { uid } = requireDirectory(request.directoryFd, 'directory');
  if (request.callerUid === 0) return { trusted: true, reason: 'the caller is root' };
  if (uid === request.callerUid) return { trusted: true, reason: 'the caller owns the directory' };
  // Owner mode on another user's tree would hand the caller that user's
  // files. A foreign-owned tree belongs to no user: under a directory the
  // caller owns it is the caller's own portable home, trusted like below.
  if (!isForeignId(uid)) {
    if (request.mode === 'owner') {
      return { trusted: false, reason: `the owner mode on a directory owned by uid ${uid}, not by the caller` };
    }
    return { trusted: false, reason: `the directory is owned by uid ${uid}, neither the caller nor the foreign range` };
  }
  if (!work || !mayWaitForServer(request.directoryFd)) {
    return foreignDecision(runSteps(ownedAncestorLevelsSteps(request.directoryFd, request.callerUid)));
  }
  return work.offThread
    .run({
      uid: work.uid,
      what: "The directory's file system",
      work: (signal) => withOwnFd(request.directoryFd, (own) => runStepsOffThread(ownedAncestorLevelsSteps(own, request.callerUid), signal)),
    })
    .then(foreignDecision);
}

function foreignDecision(levels: number | undefined): TrustDecision {
  if (levels !== undefined) {
    return { trusted: true, reason: `the foreign range owns the directory and the caller owns its ancestor ${levels} level(s) up` };
  }
  return {
    trusted: false,
    reason: `the foreign range owns the directory but the caller owns no ancestor within ${MAX_ANCESTOR_LEVELS} levels on the same mount with no other user's directory in between`,
  };
}

/**
 * How many levels above `fd` the nearest directory owned by `uid` is,
 * walking ".." by fd and stopping at the mount root or at a directory of
 * another user; undefined if none.
 */
function* ownedAncestorLevelsSteps(fd: number, uid: number): Steps<number | undefined> {
  // Only opening ".." may ask the file system; statx here reads cached attributes.
  if (isMountRoot(fd)) return undefined;
  const mountId = mountIdOf(fd);
  let current = fd;
  try {
    for (let level = 1; level <= MAX_ANCESTOR_LEVELS; level++) {
      const parent: number = yield step.openAt(current, '..', O_PATH | O_DIRECTORY);
      if (current !== fd) closeQuietly(current);
      current = parent;
      // ".." of a mount root crosses into the parent mount; we never go
      // there, but check anyway in case something was mounted meanwhile.
      if (mountIdOf(current) !== mountId) return undefined;
      const owner = fstatArgument(current, 'directory').uid;
      if (owner === uid) return level;
      // Another user's directory in between makes the tree below theirs,
      // whoever owns a directory further up (systemd-mountfsd stops there
      // too). Root's and the foreign range's directories are nobody's.
      if (owner !== 0 && !isForeignId(owner)) return undefined;
      if (isMountRoot(current)) return undefined;
    }
    return undefined;
  } finally {
    if (current !== fd) closeQuietly(current);
  }
}
