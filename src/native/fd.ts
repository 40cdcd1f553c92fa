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
