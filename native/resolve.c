/* Resolving a path the kernel reported for a caller's fd, to check it
 * names that very file in the daemon's own mount namespace. */
#include "nsmount.h"
#include "new_syscalls.h"
#include <unistd.h>
#include <linux/openat2.h>

/* O_PATH fd of `path`, following no symlink and no magic link on the way.
 * cached_only (RESOLVE_CACHED): the walk uses cached dentries alone and
 * fails with EAGAIN where it would have to ask a file system, whose server
 * (FUSE, NFS) a caller may keep from answering. */
int nsm_open_path_no_symlinks(const char *path, int cached_only)
{
	/* RESOLVE_NO_SYMLINKS also refuses magic links such as /proc/PID/root. */
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
		.mode = 0,
		.resolve = RESOLVE_NO_SYMLINKS | (cached_only ? RESOLVE_CACHED : 0),
	};
	long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);

	return fd < 0 ? NSM_NEG_ERRNO() : (int)fd;
}
