import { libnsmount } from './library';
import { check } from './check';

const nsm_set_cloexec = libnsmount.func('int nsm_set_cloexec(int fd)');
const nsm_close = libnsmount.func('int nsm_close(int fd)');
const nsm_fd_status_flags = libnsmount.func('int nsm_fd_status_flags(int fd)');
const nsm_flock = libnsmount.func('int nsm_flock(int fd, int operation)');
const nsm_dup_cloexec = libnsmount.func('int nsm_dup_cloexec(int fd)');

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

export function fdStatusFlags(fd: number): number {
  return check(nsm_fd_status_flags(fd), 'fcntl(F_GETFL)');
}

export function flock(fd: number, operation: number): void {
  check(nsm_flock(fd, operation), 'flock');
}

export function dupCloexec(fd: number): number {
  return check(nsm_dup_cloexec(fd), 'fcntl(F_DUPFD_CLOEXEC)');
}
