#include "nsmount.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/loop.h>

/* bookworm's headers know LOOP_CONFIGURE, but build hosts may be older. */
#ifndef LOOP_CONFIGURE
#define LOOP_CONFIGURE 0x4C0A
struct loop_config {
	uint32_t fd;
	uint32_t block_size;
	struct loop_info64 info;
	uint64_t __reserved[8];
};
#endif
#ifndef LO_FLAGS_DIRECT_IO
#define LO_FLAGS_DIRECT_IO 16
#endif

/* Another process may take the device LOOP_CTL_GET_FREE handed us before we
 * configure it; each lost race costs one retry, so this bound is only hit
 * when something keeps stealing devices. */
#define NSM_LOOP_ATTEMPTS 64

/* Attaches the caller's own fd (never reopened by path, so the device backs
 * exactly the file the caller proved access to) to a free loop device with
 * autoclear: once our returned fd and every mount of the device are gone the
 * kernel detaches it, so a crash or an error path cannot leak a device. */
int nsm_loop_attach(int backing_fd, uint64_t offset, uint64_t sizelimit,
			       uint32_t flags, int *out_index)
{
	struct loop_config config;
	char path[32];
	int control, attempt, err = EBUSY;

	if (flags & ~(NSM_LOOP_READ_ONLY | NSM_LOOP_DIRECT_IO))
		return -EINVAL;
	control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (control < 0)
		return NSM_NEG_ERRNO();

	memset(&config, 0, sizeof(config));
	config.fd = (uint32_t)backing_fd;
	config.info.lo_offset = offset;
	config.info.lo_sizelimit = sizelimit;
	config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (flags & NSM_LOOP_READ_ONLY)
		config.info.lo_flags |= LO_FLAGS_READ_ONLY;
	if (flags & NSM_LOOP_DIRECT_IO)
		config.info.lo_flags |= LO_FLAGS_DIRECT_IO;

	for (attempt = 0; attempt < NSM_LOOP_ATTEMPTS; attempt++) {
		int index = ioctl(control, LOOP_CTL_GET_FREE);
		int dev;

		if (index < 0) {
			err = errno;
			break;
		}
		snprintf(path, sizeof(path), "/dev/loop%d", index);
		dev = open(path, ((flags & NSM_LOOP_READ_ONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (dev < 0) {
			/* devtmpfs creates the node with the device; ENOENT
			 * means someone removed it in between: try another. */
			if (errno == ENOENT)
				continue;
			err = errno;
			break;
		}
		if (ioctl(dev, LOOP_CONFIGURE, &config) == 0) {
			close(control);
			*out_index = index;
			return dev;
		}
		err = errno;
		close(dev);
		/* EBUSY: another process configured this device first. */
		if (err != EBUSY)
			break;
	}
	close(control);
	return -err;
}

/* Attaching and mounting both read the backing file, a caller's file that
 * may be on a FUSE or NFS server that never answers: callers run this on
 * libuv's pool, and one call is one trip there. The loop fd is closed
 * before returning: the mount, if made, holds the device, and autoclear
 * frees it with the mount. */
int nsm_loop_fs_mount(int backing_fd, uint64_t offset, uint64_t sizelimit, uint32_t loop_flags,
		      const char *fstype, const char *options, uint32_t attr_flags,
		      int *failed_step, void *log, size_t log_size)
{
	char source[32];
	int index, loop, mfd;

	if (log && log_size)
		((char *)log)[0] = '\0';
	loop = nsm_loop_attach(backing_fd, offset, sizelimit, loop_flags, &index);
	if (loop < 0) {
		*failed_step = NSM_FS_MOUNT_STEP_LOOP;
		return loop;
	}
	snprintf(source, sizeof(source), "/dev/loop%d", index);
	mfd = nsm_fs_mount(fstype, source, options, attr_flags, failed_step, log, log_size);
	close(loop);
	return mfd;
}
