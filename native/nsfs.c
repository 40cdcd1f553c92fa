/* nsfs ioctls and namespace file handles. A file handle names a namespace
 * without pinning it, so the daemon can record one and later ask whether
 * the namespace still exists. */
#include "nsmount.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <linux/nsfs.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif
#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE _IO(NSIO, 0x3)
#endif
#ifndef NS_GET_OWNER_UID
#define NS_GET_OWNER_UID _IO(NSIO, 0x4)
#endif
#ifndef NS_GET_ID
#define NS_GET_ID _IOR(NSIO, 0xd, uint64_t)
#endif
/* Kernel >= 6.13: open_by_handle_at() resolves nsfs handles against this. */
#ifndef FD_NSFS_ROOT
#define FD_NSFS_ROOT -10003
#endif
#ifndef MAX_HANDLE_SZ
#define MAX_HANDLE_SZ 128
#endif

/* 1 if fd is on nsfs, 0 if not. */
int nsm_ns_is_nsfs(int fd)
{
	struct statfs st;
	if (fstatfs(fd, &st) < 0)
		return NSM_NEG_ERRNO();
	return st.f_type == NSFS_MAGIC ? 1 : 0;
}

/* Callers pass fds they got from unprivileged clients: never send an nsfs
 * ioctl number to a device driver that might give it another meaning.
 * ENOTTY is what the ioctls themselves fail with on other files. */
static int require_nsfs(int fd)
{
	int r = nsm_ns_is_nsfs(fd);
	if (r < 0)
		return r;
	return r ? 0 : -ENOTTY;
}

/* The CLONE_NEW* flag of the namespace. */
int nsm_ns_type(int fd)
{
	int r = require_nsfs(fd);
	if (r < 0)
		return r;
	r = ioctl(fd, NS_GET_NSTYPE);
	return r < 0 ? NSM_NEG_ERRNO() : r;
}

/* An nsfs ioctl that answers through a pointer. */
static int ns_query(int fd, unsigned long request, void *answer)
{
	int r = require_nsfs(fd);
	if (r < 0)
		return r;
	return ioctl(fd, request, answer) < 0 ? NSM_NEG_ERRNO() : 0;
}

/* uid_t does not fit the int return value, hence the out parameter. */
int nsm_ns_owner_uid(int fd, uint32_t *uid)
{
	return ns_query(fd, NS_GET_OWNER_UID, uid);
}

int nsm_ns_id(int fd, uint64_t *id)
{
	return ns_query(fd, NS_GET_ID, id);
}

struct handle_buf {
	struct file_handle fh;
	unsigned char bytes[MAX_HANDLE_SZ];
};

/* Copies the handle into out (up to size bytes) and its type into *type;
 * returns the handle length, which may exceed size (then retry). */
int nsm_ns_handle(int fd, int *type, uint8_t *out, int size)
{
	struct handle_buf h;
	int mnt_id, r = require_nsfs(fd);

	if (r < 0)
		return r;
	memset(&h, 0, sizeof h);
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &h.fh, &mnt_id, AT_EMPTY_PATH) < 0)
		return NSM_NEG_ERRNO();
	*type = h.fh.handle_type;
	if (size > 0)
		memcpy(out, h.fh.f_handle, (size_t)size < h.fh.handle_bytes ? (size_t)size : h.fh.handle_bytes);
	return (int)h.fh.handle_bytes;
}

/* Needs CAP_DAC_READ_SEARCH. ESTALE once the namespace is gone. */
int nsm_ns_open_handle(int type, const uint8_t *bytes, int len)
{
	struct handle_buf h;
	int fd;

	if (len <= 0 || len > MAX_HANDLE_SZ)
		return -EINVAL;
	memset(&h, 0, sizeof h);
	h.fh.handle_bytes = (unsigned int)len;
	h.fh.handle_type = type;
	memcpy(h.fh.f_handle, bytes, (size_t)len);
	fd = open_by_handle_at(FD_NSFS_ROOT, &h.fh, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? NSM_NEG_ERRNO() : fd;
}

/* 1 if the handle opens (the fd is closed at once), else -errno. */
int nsm_ns_handle_alive(int type, const uint8_t *bytes, int len)
{
	int fd = nsm_ns_open_handle(type, bytes, len);
	if (fd < 0)
		return fd;
	close(fd);
	return 1;
}
