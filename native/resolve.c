/* Resolving a path the kernel reported for a caller's fd, to check it
 * names that very file in the daemon's own mount namespace. */
#include "nsmount.h"
#include "new_syscalls.h"
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/syscall.h>

#define NSM_RESOLVE_NO_SYMLINKS 0x04 /* also refuses magic links such as /proc/PID/root */

struct nsm_open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};

/* O_PATH fd of `path`, following no symlink and no magic link on the way. */
int nsm_open_path_no_symlinks(const char *path)
{
	struct nsm_open_how how = { .flags = O_PATH | O_CLOEXEC | O_NOFOLLOW, .mode = 0, .resolve = NSM_RESOLVE_NO_SYMLINKS };
	long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);

	return fd < 0 ? NSM_NEG_ERRNO() : (int)fd;
}
