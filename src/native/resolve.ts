// Path resolution that cannot be steered through symlinks or magic links.
import { nsm_open_path_no_symlinks } from './bindings';
import { check } from './check';
import { Errno } from './errno';

// RESOLVE_CACHED also fails when its lockless walk is disturbed, by a
// mount or unmount anywhere on the system at that moment (measured here:
// 8 in 200,000 walks while a shell mounted and unmounted a tmpfs in a
// loop). Retried, such a walk succeeds; one that needs a file system
// keeps failing.
const CACHED_ATTEMPTS = 8;

export interface ResolveOptions {
  /**
   * Walk cached dentries only (RESOLVE_CACHED), failing with EAGAIN where
   * the walk would have to ask a file system: for paths a caller
   * influences, which may lead through a FUSE or NFS mount whose server
   * never answers.
   */
  cachedOnly: boolean;
}

/** O_PATH|O_CLOEXEC fd of an absolute `path`, resolved with RESOLVE_NO_SYMLINKS. */
export function openPathNoSymlinks(path: string, options: ResolveOptions): number {
  let fd = nsm_open_path_no_symlinks(path, options.cachedOnly ? 1 : 0);
  for (let attempt = 1; options.cachedOnly && fd === -Errno.EAGAIN && attempt < CACHED_ATTEMPTS; attempt++) {
    fd = nsm_open_path_no_symlinks(path, 1);
  }
  return check(fd, 'openat2(RESOLVE_NO_SYMLINKS)');
}
