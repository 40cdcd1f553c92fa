#include "nsmount.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/mount.h>

/* The new mount API has no glibc wrappers we can use next to linux/mount.h
 * on every build host; call it directly. */
#ifndef __NR_fsopen
#define __NR_fsopen 430
#endif
#ifndef __NR_fsconfig
#define __NR_fsconfig 431
#endif
#ifndef __NR_fsmount
#define __NR_fsmount 432
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif

/* Steps reported through *failed_step so callers can tell "the kernel lacks
 * this filesystem" (open) from "an option was refused" (option) from "the
 * superblock is not usable" (create). */
enum { NSM_FS_STEP_OPEN = 1, NSM_FS_STEP_SOURCE, NSM_FS_STEP_OPTION, NSM_FS_STEP_CREATE, NSM_FS_STEP_MOUNT };

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
		return (int)syscall(__NR_fsconfig, fsfd, FSCONFIG_SET_STRING, option, eq + 1, 0);
	}
	return (int)syscall(__NR_fsconfig, fsfd, FSCONFIG_SET_FLAG, option, NULL, 0);
}

/* Creates a detached mount of `source` (a block device path such as
 * /dev/loop7; "source" only takes strings, never fds) and returns its fd.
 * `options` are already validated "key" or "key=value" entries separated by
 * '\n'. MOUNT_ATTR_RDONLY in attr_flags also makes the superblock read-only,
 * which a read-only device needs. */
NSM_EXPORT int nsm_fs_mount(const char *fstype, const char *source, const char *options,
			    unsigned attr_flags, int *failed_step, char *log, size_t log_size)
{
	int fsfd, mfd, step = NSM_FS_STEP_OPEN, err;

	if (log && log_size)
		log[0] = '\0';
	fsfd = (int)syscall(__NR_fsopen, fstype, FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		*failed_step = step;
		return NSM_NEG_ERRNO();
	}

	step = NSM_FS_STEP_SOURCE;
	if (source && syscall(__NR_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		goto fail;

	step = NSM_FS_STEP_OPTION;
	if ((attr_flags & MOUNT_ATTR_RDONLY) &&
	    syscall(__NR_fsconfig, fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
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

	step = NSM_FS_STEP_CREATE;
	if (syscall(__NR_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto fail;

	step = NSM_FS_STEP_MOUNT;
	mfd = (int)syscall(__NR_fsmount, fsfd, FSMOUNT_CLOEXEC, attr_flags);
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
