// Path resolution that cannot be steered through symlinks or magic links.
import { nsm_open_path_no_symlinks } from './bindings';
import { check } from './check';

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
  return check(nsm_open_path_no_symlinks(path, options.cachedOnly ? 1 : 0), 'openat2(RESOLVE_NO_SYMLINKS)');
}
