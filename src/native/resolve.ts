// Path resolution that cannot be steered through symlinks or magic links.
import { nsm_open_path_no_symlinks } from './bindings';
import { check } from './check';

/** O_PATH|O_CLOEXEC fd of an absolute `path`, resolved with RESOLVE_NO_SYMLINKS. */
export function openPathNoSymlinks(path: string): number {
  return check(nsm_open_path_no_symlinks(path), 'openat2(RESOLVE_NO_SYMLINKS)');
}
