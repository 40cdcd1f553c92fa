/* The new mount API (open_tree, mount_setattr, move_mount) and mount
 * identity via statx. */
#include "nsmount.h"
#include "new_syscalls.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysmacros.h>

/* The kernel's struct statx; glibc 2.36's copy hides stx_mnt_id in padding. */
struct nsm_statx {
	uint32_t stx_mask;
	uint32_t stx_blksize;
	uint64_t stx_attributes;
	uint32_t stx_nlink;
	uint32_t stx_uid;
	uint32_t stx_gid;
	uint16_t stx_mode;
	uint16_t spare0;
	uint64_t stx_ino;
	uint64_t stx_size;
	uint64_t stx_blocks;
	uint64_t stx_attributes_mask;
	struct { int64_t tv_sec; uint32_t tv_nsec; int32_t spare; } stx_time[4];
	uint32_t stx_rdev_major;
	uint32_t stx_rdev_minor;
	uint32_t stx_dev_major;
	uint32_t stx_dev_minor;
	uint64_t stx_mnt_id;
	uint64_t spare3[13];
};
_Static_assert(sizeof(struct nsm_statx) == 256, "struct statx is 256 bytes");

/* AT_STATX_DONT_SYNC: the fd may be a caller's file on FUSE or NFS, whose
 * server would be asked for fresh attributes and may never answer; what
 * the kernel has cached is enough for every question asked here. */
static int statx_fd(int fd, unsigned mask, struct nsm_statx *stx)
{
	memset(stx, 0, sizeof(*stx));
	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, mask, stx) < 0)
		return NSM_NEG_ERRNO();
	return 0;
}

/* fstat of any fd (O_PATH too) from cached attributes (see statx_fd).
 * out[] = mode, uid, gid, dev (glibc's makedev encoding, as st_dev), ino, size. */
int nsm_stat_fd_cached(int fd, uint64_t *out)
{
	struct nsm_statx stx;
	int r = statx_fd(fd, STATX_BASIC_STATS, &stx);
	if (r < 0)
		return r;
	out[0] = stx.stx_mode;
	out[1] = stx.stx_uid;
	out[2] = stx.stx_gid;
	out[3] = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	out[4] = stx.stx_ino;
	out[5] = stx.stx_size;
	return 0;
}

int nsm_open_tree_clone(int dirfd, int recursive)
{
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
	if (recursive)
		flags |= AT_RECURSIVE;
	long r = syscall(SYS_open_tree, dirfd, "", flags);
	return r < 0 ? NSM_NEG_ERRNO() : (int)r;
}

/* userns_fd < 0 means no idmap. attr_clr is always 0 on purpose: a clone
 * inherits its source's restrictions and must never lose them. */
int nsm_mount_setattr(int mount_fd, uint64_t attr_set, int userns_fd, int recursive)
{
	struct mount_attr attr = {
		.attr_set = attr_set,
		.userns_fd = userns_fd < 0 ? 0 : (uint64_t)userns_fd,
	};
	unsigned flags = AT_EMPTY_PATH;
	if (recursive)
		flags |= AT_RECURSIVE;
	if (syscall(SYS_mount_setattr, mount_fd, "", flags, &attr, sizeof(attr)) < 0)
		return NSM_NEG_ERRNO();
	return 0;
}

int nsm_move_mount_to(int mount_fd, int target_fd)
{
	if (syscall(SYS_move_mount, mount_fd, "", target_fd, "",
		    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return NSM_NEG_ERRNO();
	return 0;
}

/* *unique gets the 64-bit never-reused id (0 if the kernel lacks
 * STATX_MNT_ID_UNIQUE), *legacy the reusable id /proc/PID/mountinfo shows. */
int nsm_mount_ids(int fd, uint64_t *unique, uint64_t *legacy)
{
	struct nsm_statx stx;
	int r = statx_fd(fd, STATX_MNT_ID, &stx);
	if (r < 0)
		return r;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	*legacy = stx.stx_mnt_id;
	r = statx_fd(fd, STATX_MNT_ID_UNIQUE, &stx);
	if (r < 0)
		return r;
	*unique = (stx.stx_mask & STATX_MNT_ID_UNIQUE) ? stx.stx_mnt_id : 0;
	return 0;
}

/* 1 if fd is the root of its mount, 0 if not. */
int nsm_is_mount_root(int fd)
{
	struct nsm_statx stx;
	int r = statx_fd(fd, 0, &stx);
	if (r < 0)
		return r;
	if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return -EOPNOTSUPP;
	return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
}

/* There is no umount-by-fd syscall. The /proc/self/fd magic link resolves
 * to exactly the mount and dentry the fd holds, never re-walking a path,
 * so an fd whose mount id was checked names that mount and no other. */
int nsm_umount_detach_fd(int fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (syscall(SYS_umount2, path, MNT_DETACH) < 0)
		return NSM_NEG_ERRNO();
	return 0;
}
