import { nsm_set_cloexec, nsm_close, nsm_fd_status_flags, nsm_flock, nsm_dup_cloexec } from './bindings';
import { check } from './check';
import { asyncCall } from './off-thread';

export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

export function setCloexec(fd: number): void {
  check(nsm_set_cloexec(fd), 'fcntl(F_SETFD)');
}

/** Closes without throwing: used on cleanup paths where the first error matters more. */
export function closeQuietly(fd: number | undefined | null): void {
  if (typeof fd === 'number' && fd >= 0) nsm_close(fd);
}

/**
 * close(2) on libuv's pool, for fds of files a caller chose: closing a
 * regular file on FUSE waits for the server to answer FLUSH, which a server
 * that hangs never does. Run it as an OffThread job (patient) so that it
 * counts against the caller's share of the pool.
 */
export async function closeOffThread(fd: number): Promise<void> {
  if (fd >= 0) await asyncCall<number>(nsm_close, fd);
}

export function fdStatusFlags(fd: number): number {
  return check(nsm_fd_status_flags(fd), 'fcntl(F_GETFL)');
}

export function flock(fd: number, operation: number): void {
  check(nsm_flock(fd, operation), 'flock');
}

export function dupCloexec(fd: number): number {
  return check(nsm_dup_cloexec(fd), 'fcntl(F_DUPFD_CLOEXEC)');
}

/**
 * Runs pool work on a private dup of a caller's fd, closed on the pool
 * afterwards. The caller's own fd is closed once its call gives up, maybe
 * while a step of this work is still queued, and its number may by then
 * name another call's file; a dup keeps naming the one the caller sent.
 * The close is the pool's too: for a file on FUSE it waits for FLUSH, and
 * the dup may be the last reference to a detached mount.
 */
export async function withOwnFd<T>(fd: number, work: (own: number) => Promise<T>): Promise<T> {
  const own = dupCloexec(fd);
  try {
    return await work(own);
  } finally {
    await closeOffThread(own);
  }
}
