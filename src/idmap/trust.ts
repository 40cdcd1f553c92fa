// Whether an IdmapDirectory request stays within what the caller could do
// anyway. The method layer turns "untrusted" into a polkit action that
// needs an administrator. As with systemd-mountfsd's MountDirectory, a
// foreign-owned tree is the caller's when the caller owns a directory
// above it on the same mount: only then did the caller put it there (or
// could remove it), and no mount boundary can splice in someone else's tree.
import { closeQuietly } from '../native/fd';
import { openParent } from '../native/dirfd';
import { isMountRoot, mountIdOf } from '../native/mount-api';
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

export function classifyIdmapRequest(request: IdmapTrustRequest): TrustDecision {
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
  const levels = ownedAncestorLevels(request.directoryFd, request.callerUid);
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
function ownedAncestorLevels(fd: number, uid: number): number | undefined {
  if (isMountRoot(fd)) return undefined;
  const mountId = mountIdOf(fd);
  let current = fd;
  try {
    for (let level = 1; level <= MAX_ANCESTOR_LEVELS; level++) {
      const parent = openParent(current);
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
