/* The two mount namespaces native/mount_lock.c locks mounts with, made
 * once per process. */
#include "mount_lock.h"

_Static_assert(LOCK_SLOTS <= 10, "slot directories are named by one digit");

static long open_own_ns(int proc_self_fd, const char *name)
{
	return RAW4(SYS_openat, proc_self_fd, name, O_RDONLY | O_CLOEXEC, 0);
}

/* A detached tmpfs, nosuid,nodev,noexec, 0700, holding the empty slot
 * directories and room for nothing else. */
static long make_slot_tmpfs(void)
{
	char dir[] = LOCK_SLOT_DIR_PREFIX "0";
	long r, fsfd, mfd;

	if ((fsfd = RAW2(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC)) < 0)
		return fsfd;
	r = RAW5(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "mode", "0700", 0);
	if (r == 0)
		r = RAW5(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "nr_inodes", "16", 0);
	if (r == 0)
		r = RAW5(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, 0, 0, 0);
	mfd = r == 0 ? RAW3(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC,
			    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)
		     : r;
	RAW1(SYS_close, fsfd);
	for (int i = 0; mfd >= 0 && i < LOCK_SLOTS; i++) {
		dir[sizeof dir - 2] = (char)('0' + i);
		if ((r = RAW3(SYS_mkdirat, mfd, dir, 0700)) < 0) {
			RAW1(SYS_close, mfd);
			return r;
		}
	}
	return mfd;
}

/* Makes the tmpfs our root and drops every other mount, so the staging
 * namespace holds that one mount and nothing of the daemon's. */
static long pivot_into(long mfd)
{
	long r = RAW5(SYS_move_mount, mfd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH);

	if (r == 0)
		r = RAW1(SYS_fchdir, mfd);
	if (r == 0)
		r = RAW2(SYS_pivot_root, ".", ".");
	if (r == 0)
		r = RAW2(SYS_umount2, ".", MNT_DETACH);
	if (r == 0)
		r = RAW1(SYS_chdir, "/");
	return r;
}

static long make_namespaces(int *step, int proc, int *staging_fd, int *lock_fd)
{
	long r, mfd;

	*step = LOCK_STEP_STAGING_UNSHARE;
	if ((r = RAW1(SYS_unshare, CLONE_NEWNS)) < 0)
		return r;
	/* Nothing we do here may propagate back to the daemon's namespace. */
	*step = LOCK_STEP_STAGING_PRIVATE;
	if ((r = RAW5(SYS_mount, 0, "/", 0, MS_REC | MS_PRIVATE, 0)) < 0)
		return r;
	*step = LOCK_STEP_STAGING_TMPFS;
	if ((mfd = make_slot_tmpfs()) < 0)
		return mfd;
	*step = LOCK_STEP_STAGING_PIVOT;
	r = pivot_into(mfd);
	RAW1(SYS_close, mfd);
	if (r < 0)
		return r;
	/* What is attached below the root propagates to the lock namespace. */
	*step = LOCK_STEP_STAGING_SHARED;
	if ((r = RAW5(SYS_mount, 0, "/", 0, MS_SHARED, 0)) < 0)
		return r;
	if ((r = open_own_ns(proc, "ns/mnt")) < 0)
		return r;
	*staging_fd = (int)r;

	*step = LOCK_STEP_LOCK_USERNS;
	if ((r = RAW1(SYS_unshare, CLONE_NEWUSER)) < 0)
		return r;
	/* A copy owned by the new user namespace: its root is locked and
	 * becomes a slave of the staging root (CL_SHARED_TO_SLAVE). */
	*step = LOCK_STEP_LOCK_COPY;
	if ((r = RAW1(SYS_unshare, CLONE_NEWNS)) < 0)
		return r;
	if ((r = open_own_ns(proc, "ns/mnt")) < 0)
		return r;
	*lock_fd = (int)r;
	return 0;
}

long lock_make_staging(int *step, int *staging_fd, int *lock_fd)
{
	long r, proc;

	*staging_fd = *lock_fd = -1;
	/* /proc is gone once we pivot; keep our own task directory. */
	*step = LOCK_STEP_STAGING_UNSHARE;
	if ((proc = RAW4(SYS_openat, AT_FDCWD, "/proc/thread-self", O_PATH | O_DIRECTORY | O_CLOEXEC, 0)) < 0)
		return proc;
	r = make_namespaces(step, (int)proc, staging_fd, lock_fd);
	RAW1(SYS_close, proc);
	return r;
}
