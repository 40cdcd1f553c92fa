// Closing the fds a message brought, without waiting on Node's thread for
// anything the caller controls. close(2) of a regular file on FUSE waits
// for the server to answer FLUSH (NFS and SMB write back first), a socket
// with SO_LINGER waits out the linger time, a terminal drains its output
// and a block device flushes its cache: those fds are closed on libuv's
// pool, as a patient OffThread job charged to the caller's uid, so a
// server that never answers holds one of that caller's pool threads and
// nothing else. Directories, O_PATH fds, namespace fds and files on local
// file systems are closed at once, as before.
import fs from 'node:fs';
import { closeOffThread, closeQuietly, fdStatusFlags } from '../native/fd';
import { O_PATH } from '../native/flags';
import { mayWaitForServer } from '../native/file-system-server';
import type { OffThread } from '../native/off-thread';
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
  if (stats.isDirectory() || stats.isFIFO() || stats.isSymbolicLink()) return false;
  if (stats.isSocket() || stats.isCharacterDevice() || stats.isBlockDevice()) return true;
  if (!stats.isFile()) return false;
  if (isNamespaceFd(stats)) return false;
  try {
    // An O_PATH fd was never opened for I/O: closing it flushes nothing.
    if ((fdStatusFlags(fd) & O_PATH) !== 0) return false;
  } catch {
    return false;
  }
  return mayWaitForServer(fd);
}

export interface CloseOptions {
  offThread: OffThread;
  /** The caller's uid, to charge the pool threads to; asked only when some fd needs one. */
  uid: () => Promise<number>;
  /** Told when an off-thread close fails (it never should: the fd was the message's). */
  onError: (err: unknown) => void;
}

/**
 * Closes every fd: at once where that cannot wait, otherwise on the pool.
 * Returns without waiting for the latter: the call is over either way.
 */
export function closeMessageFds(fds: readonly number[], options: CloseOptions): void {
  const slow: number[] = [];
  for (const fd of fds) {
    if (closeMayWait(fd)) slow.push(fd);
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
