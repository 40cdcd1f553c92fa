/* libblkid's reads of an image, one call per probe. The image may be a
 * caller's file on a FUSE or NFS server that never answers, so callers
 * run this on libuv's pool (src/native/off-thread.ts), where each call is
 * one trip: opening, stating and reading the file happen in here together.
 * The probe itself is made, set up and read out by src/native/blkid.ts;
 * libblkid-dev is not installed, so the two functions used are declared
 * by hand, as there. */
#include "nsmount.h"
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

typedef struct blkid_struct_probe *blkid_probe;
extern int blkid_probe_set_device(blkid_probe pr, int fd, int64_t off, int64_t size);
extern int blkid_do_safeprobe(blkid_probe pr);

/* Points `probe` at the window (offset, size; 0 = to the end) of `fd` and
 * runs blkid_do_safeprobe: 0 found, 1 nothing, 2 ambivalent (several
 * signatures that exclude each other), or -errno.
 *
 * With `reopen`, the probe reads a private fd instead, *private_fd, opened
 * here from /proc/self/fd/N (the very inode, no path lookup): libblkid
 * seeks, and the caller's file offset stays where the caller left it.
 * O_NONBLOCK: a lease holder makes the open fail with EWOULDBLOCK rather
 * than wait out the lease-break time. *private_fd is -1 when that open
 * failed (the return value says why); otherwise it is the caller's to
 * close, whatever the probe answered. */
int nsm_blkid_probe(void *probe, int fd, int64_t offset, int64_t size, int reopen, NSM_OUT int *private_fd)
{
	int rc;

	*private_fd = -1;
	if (reopen) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return NSM_NEG_ERRNO();
		*private_fd = fd;
	}
	errno = 0;
	if (blkid_probe_set_device(probe, fd, offset, size) != 0)
		return NSM_NEG_ERRNO();
	errno = 0;
	rc = blkid_do_safeprobe(probe);
	if (rc == -1)
		return NSM_NEG_ERRNO();
	return rc == -2 ? 2 : rc;
}
