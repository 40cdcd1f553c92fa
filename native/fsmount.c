/* New file system mounts: fsopen, fsconfig, fsmount. */
#include "nsmount.h"
#include "new_syscalls.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Drains the filesystem context log ("e ...", "w ...", "i ..." lines) so an
 * error can say why the kernel refused; best effort. */
static void read_log(int fsfd, char *log, size_t log_size)
{
	size_t used = 0;

	if (!log || log_size == 0)
		return;
	log[0] = '\0';
	while (used + 1 < log_size) {
		ssize_t n = read(fsfd, log + used, log_size - used - 1);
		if (n <= 0)
			break;
		used += (size_t)n;
		if (log[used - 1] != '\n' && used + 1 < log_size)
			log[used++] = '\n';
	}
	log[used] = '\0';
}

static int set_option(int fsfd, char *option)
{
	char *eq = strchr(option, '=');

	if (eq) {
		*eq = '\0';
		return (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, option, eq + 1, 0);
	}
	return (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, option, NULL, 0);
}

/* Creates a detached mount of `source` (a block device path such as
 * /dev/loop7; "source" only takes strings, never fds) and returns its fd.
 * `options` are already validated "key" or "key=value" entries separated by
 * '\n'. MOUNT_ATTR_RDONLY in attr_flags also makes the superblock read-only,
 * which a read-only device needs. */
int nsm_fs_mount(const char *fstype, const char *source, const char *options,
		 uint32_t attr_flags, int *failed_step, void *log_buf, size_t log_size)
{
	char *log = log_buf;
	int fsfd, mfd, step = NSM_FS_MOUNT_STEP_OPEN, err;

	if (log && log_size)
		log[0] = '\0';
	fsfd = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		*failed_step = step;
		return NSM_NEG_ERRNO();
	}

	step = NSM_FS_MOUNT_STEP_SOURCE;
	if (source && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		goto fail;

	step = NSM_FS_MOUNT_STEP_OPTION;
	if ((attr_flags & MOUNT_ATTR_RDONLY) &&
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
		goto fail;
	if (options && *options) {
		char *copy = strdup(options), *cursor = copy, *option;

		if (!copy) {
			errno = ENOMEM;
			goto fail;
		}
		while ((option = strsep(&cursor, "\n"))) {
			if (*option && set_option(fsfd, option) < 0) {
				err = errno;
				free(copy);
				errno = err;
				goto fail;
			}
		}
		free(copy);
	}

	step = NSM_FS_MOUNT_STEP_CREATE;
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto fail;

	step = NSM_FS_MOUNT_STEP_MOUNT;
	mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attr_flags);
	if (mfd < 0)
		goto fail;
	close(fsfd);
	return mfd;

fail:
	err = errno ? errno : EIO;
	read_log(fsfd, log, log_size);
	close(fsfd);
	*failed_step = step;
	return -err;
}
