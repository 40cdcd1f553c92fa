#include "nsmount.h"
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>

/* Received fds arrive without close-on-exec (dbus-next, usocket); the
 * daemon marks each one before anything else can fork. */
int nsm_set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);
	if (flags < 0)
		return NSM_NEG_ERRNO();
	if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return NSM_NEG_ERRNO();
	return 0;
}

int nsm_close(int fd)
{
	return close(fd) < 0 ? NSM_NEG_ERRNO() : 0;
}

/* Open-file status flags (O_ACCMODE, O_PATH, ...) decide how a caller's fd
 * may be used: a read-only image forces a read-only mount. */
int nsm_fd_status_flags(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	return flags < 0 ? NSM_NEG_ERRNO() : flags;
}

int nsm_flock(int fd, int operation)
{
	for (;;) {
		if (flock(fd, operation) == 0)
			return 0;
		if (errno != EINTR)
			return NSM_NEG_ERRNO();
	}
}

int nsm_dup_cloexec(int fd)
{
	int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return r < 0 ? NSM_NEG_ERRNO() : r;
}
