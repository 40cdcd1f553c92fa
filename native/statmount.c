/* statmount(2) (Linux 6.8): where a mount is now, looked up by its unique
 * id in the caller's mount namespace. bookworm's headers predate it, so the
 * request and the fixed part of the reply are declared here. */
#include "nsmount.h"
#include "new_syscalls.h"
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#define NSM_STATMOUNT_MNT_POINT 0x10ULL
#define NSM_MNT_ID_REQ_SIZE_VER0 24

struct nsm_mnt_id_req {
	uint32_t size;
	uint32_t spare;
	uint64_t mnt_id;
	uint64_t param;
};

/* The fixed header of struct statmount is 512 bytes; strings follow it. */
struct nsm_statmount {
	uint32_t size;
	uint32_t spare1;
	uint64_t mask;
	uint32_t sb_dev_major, sb_dev_minor;
	uint64_t sb_magic;
	uint32_t sb_flags, fs_type;
	uint64_t mnt_id, mnt_parent_id;
	uint32_t mnt_id_old, mnt_parent_id_old;
	uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
	uint32_t mnt_root, mnt_point;
	uint64_t spare2[50];
	char str[];
};

_Static_assert(sizeof(struct nsm_statmount) == 512, "struct statmount header is 512 bytes");

/* Copies the mount point of the mount with unique id `mnt_id` into `path`
 * (NUL-terminated) and returns its length; -ENOENT when no such mount is in
 * this mount namespace, -ENOSYS before Linux 6.8. */
int nsm_statmount_point(uint64_t mnt_id, uint8_t *path, uint32_t path_size)
{
	union {
		struct nsm_statmount sm;
		char bytes[512 + 8192];
	} buf;
	struct nsm_mnt_id_req req = {
		.size = NSM_MNT_ID_REQ_SIZE_VER0,
		.mnt_id = mnt_id,
		.param = NSM_STATMOUNT_MNT_POINT,
	};
	if (syscall(SYS_statmount, &req, &buf, sizeof(buf), 0) < 0)
		return NSM_NEG_ERRNO();
	if (!(buf.sm.mask & NSM_STATMOUNT_MNT_POINT))
		return -EOPNOTSUPP;
	size_t room = sizeof(buf) - offsetof(struct nsm_statmount, str);
	if (buf.sm.mnt_point >= room)
		return -EOVERFLOW;
	const char *point = buf.sm.str + buf.sm.mnt_point;
	size_t len = strnlen(point, room - buf.sm.mnt_point);
	if (len + 1 > path_size)
		return -ENAMETOOLONG;
	memcpy(path, point, len + 1);
	return (int)len;
}

#define NSM_STATMOUNT_SB_BASIC 0x1ULL

/* The superblock of the mount with unique id `mnt_id`, as statmount sees it
 * without asking the file system: out[0] = its magic (f_type), out[1] and
 * out[2] = the major and minor of its device. -ENOENT when no such mount is
 * in this mount namespace. */
int nsm_statmount_sb(uint64_t mnt_id, uint64_t *out)
{
	struct nsm_statmount sm;
	struct nsm_mnt_id_req req = {
		.size = NSM_MNT_ID_REQ_SIZE_VER0,
		.mnt_id = mnt_id,
		.param = NSM_STATMOUNT_SB_BASIC,
	};
	if (syscall(SYS_statmount, &req, &sm, sizeof(sm), 0) < 0)
		return NSM_NEG_ERRNO();
	if (!(sm.mask & NSM_STATMOUNT_SB_BASIC))
		return -EOPNOTSUPP;
	out[0] = sm.sb_magic;
	out[1] = sm.sb_dev_major;
	out[2] = sm.sb_dev_minor;
	return 0;
}
