// Closing the fds a message brought, without waiting on Node's thread for
// anything the caller controls. close(2) of a regular file on FUSE waits
// for the server to answer FLUSH (NFS and SMB write back first), a socket
// with SO_LINGER waits out the linger time, a terminal drains its output
// and a block device flushes its cache: those fds are closed on libuv's
// pool, as a patient OffThread job charged to the caller's uid, so a
// server that never answers holds one of that caller's pool threads and
// nothing else. So is any other fd on such a file system (a directory, an
// O_PATH fd), which may hold the last reference of a detached mount.
// Namespace fds and fds on local file systems are closed at once.
import fs from 'node:fs';
import { closeOffThread, closeQuietly } from '../native/fd';
import { mayWaitForServer } from '../native/file-system-server';
import type { OffThread } from '../native/off-thread';
import type { KnownCloses } from './method';
import { statFdCached, type CachedStat } from '../native/stat';

/** A uid to charge when the caller could not be identified. */
export const UNIDENTIFIED_UID = -1;

let nsfsDev: bigint | undefined;

/** Namespace fds (nsfs) are regular files to statx; closing one never waits. */
function isNamespaceFd(stats: CachedStat): boolean {
  nsfsDev ??= fs.statSync('/proc/self/ns/user', { bigint: true }).dev;
  return stats.dev === nsfsDev;
}

/** Whether close(fd) may wait for someone the caller controls. */
export function closeMayWait(fd: number): boolean {
  let stats: CachedStat;
  try {
    stats = statFdCached(fd);
  } catch {
    return false; // Not an open fd: close only reports that.
  }
  if (stats.isSocket() || stats.isCharacterDevice() || stats.isBlockDevice()) return true;
  if (stats.isFile() && isNamespaceFd(stats)) return false;
  // Any fd, a directory or an O_PATH fd too, holds its mount. When it is
  // the last reference of a mount that is no longer attached (Unmount
  // detached it, or the caller passed an fd of a detached mount and kept
  // no copy), closing it shuts the file system down, and a read-write one
  // writes back first: an ext4 on a loop device whose file is on FUSE
  // waits for that server. So whatever is on a file system that may wait
  // is closed on the pool; on a local one nothing can.
  return mayWaitForServer(fd);
}

export interface CloseOptions {
  offThread: OffThread;
  /** The caller's uid, to charge the pool threads to; asked only when some fd needs one. */
  uid: () => Promise<number>;
  /** Told when an off-thread close fails (it never should: the fd was the message's). */
  onError: (err: unknown) => void;
  /** What the method already found out about some of these fds; the others are looked at here. */
  known?: KnownCloses;
}

/**
 * Closes every fd: at once where that cannot wait, otherwise on the pool.
 * Returns without waiting for the latter: the call is over either way.
 */
export function closeMessageFds(fds: readonly number[], options: CloseOptions): void {
  const slow: number[] = [];
  for (const fd of fds) {
    if (options.known?.get(fd) ?? closeMayWait(fd)) slow.push(fd);
    else closeQuietly(fd);
  }
  if (slow.length === 0) return;
  void options
    .uid()
    .catch(() => UNIDENTIFIED_UID)
    .then((uid) =>
      Promise.all(
        slow.map((fd) =>
          options.offThread.run({ uid, what: 'Closing a file the caller passed', patient: true, work: () => closeOffThread(fd) }),
        ),
      ),
    )
    .catch(options.onError);
}
