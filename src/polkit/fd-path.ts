// The path an fd is shown under in polkit details. The kernel names an fd
// by its path in the mount namespace the file was opened from: for a
// caller's own namespace that is any name the caller likes (a tmpfs
// mounted at /srv/vetted makes /srv/vetted/x.img), and a path-based rule or
// an administrator reading a prompt would be misled. So a path is given
// only when the daemon, resolving it in its own mount namespace without
// symlinks, reaches the very same file (device and inode). The mount may
// differ: a sandboxed app's namespace is a copy of ours, whose mounts have
// ids of their own, yet the path names the same file here, which is all a
// rule or a person can act on. The walk uses cached dentries only and the
// stats cached attributes: the path may lead through a FUSE or NFS mount
// whose server a caller keeps from answering, and a path that cannot be
// confirmed without asking that server is not confirmed.
import fs from 'node:fs';
import { closeQuietly } from '../native/fd';
import { openPathNoSymlinks } from '../native/resolve';
import { statFdCached } from '../native/stat';

export type FdPath =
  /** `path` names this file in nsmountd's mount namespace. */
  | { verified: true; path: string }
  /** What the kernel reported, unverified: the caller may have chosen it ("" when there was nothing). */
  | { verified: false; reported: string };

/** The directory's path as the kernel names it now: for polkit details and logs, never for access. */
export function directoryPath(fd: number): string {
  return fs.readlinkSync(`/proc/self/fd/${fd}`);
}

export function fdPath(fd: number): FdPath {
  let reported: string;
  try {
    reported = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return { verified: false, reported: '' };
  }
  if (!reported.startsWith('/')) return { verified: false, reported };
  let again: number | undefined;
  try {
    again = openPathNoSymlinks(reported, { cachedOnly: true });
    const mine = statFdCached(fd);
    const found = statFdCached(again);
    if (mine.dev === found.dev && mine.ino === found.ino) return { verified: true, path: reported };
  } catch {
    // Not there, behind a symlink, or not reachable from here: a finding, not a failure.
  } finally {
    closeQuietly(again);
  }
  return { verified: false, reported };
}
