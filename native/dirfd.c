/* fd-relative file operations. Everything the daemon does to a caller's
 * directory goes through an fd it already checked, so names are always a
 * single component resolved without following symlinks. */
#include "nsmount.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int nsm_mkdirat(int dirfd, const char *name, uint32_t mode)
{
	return mkdirat(dirfd, name, mode) < 0 ? NSM_NEG_ERRNO() : 0;
}

/* AT_EMPTY_PATH makes this work on O_PATH fds, which fchown(2) refuses. */
int nsm_fchown_fd(int fd, uint32_t uid, uint32_t gid)
{
	return fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0 ? NSM_NEG_ERRNO() : 0;
}

int nsm_fchmod(int fd, uint32_t mode)
{
	return fchmod(fd, mode) < 0 ? NSM_NEG_ERRNO() : 0;
}

int nsm_rename_noreplace(int olddirfd, const char *oldname, int newdirfd, const char *newname)
{
	if (syscall(SYS_renameat2, olddirfd, oldname, newdirfd, newname, RENAME_NOREPLACE) < 0)
		return NSM_NEG_ERRNO();
	return 0;
}

int nsm_openat(int dirfd, const char *name, int flags, uint32_t mode)
{
	int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd < 0 ? NSM_NEG_ERRNO() : fd;
}

int nsm_unlinkat(int dirfd, const char *name, int flags)
{
	return unlinkat(dirfd, name, flags) < 0 ? NSM_NEG_ERRNO() : 0;
}

/* 1 if the directory holds nothing but "." and "..", 0 otherwise. Works on
 * O_PATH fds (which cannot be read) by reopening "." through them. */
int nsm_dir_is_empty(int fd)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return NSM_NEG_ERRNO();
	char buf[4096] __attribute__((aligned(8)));
	int result = 1;
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
		if (n < 0) {
			result = NSM_NEG_ERRNO();
			break;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			off += d->d_reclen;
			if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) {
				result = 0;
				goto out;
			}
		}
	}
out:
	close(dfd);
	return result;
}
