/* Staging the container's file system tree from the helper's side: the
 * rootfs, binds, /dev and /tmp, in a private mount namespace of its own. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../new_syscalls.h"
#include "run.h"

static const char *const DEVICES[] = { "null", "zero", "full", "random", "urandom", "tty" };
#define N_DEVICES (sizeof DEVICES / sizeof DEVICES[0])
static const char *const STAGING[] = { "/tmp", "/mnt", "/var/tmp", NULL };

int open_in_root(int root_fd, const char *path, uint64_t flags)
{
	struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
	return fd;
}

int mount_fresh(const char *fstype, const char *mode, unsigned attrs, int target_fd)
{
	int fs, mnt, r = -1;

	fs = fsopen(fstype, FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	if ((!mode || fsconfig(fs, FSCONFIG_SET_STRING, "mode", mode, 0) == 0) &&
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0) {
		mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
		if (mnt >= 0) {
			r = move_mount(mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
			close(mnt);
		}
	}
	if (r < 0) {
		int saved = errno;
		close(fs);
		errno = saved;
		return -1;
	}
	close(fs);
	return 0;
}

/* Where a directory the container needs is missing, make it through the
 * writable mount when there is one, else name it. */
static int needed_directory(const struct job *job, const char *name, mode_t mode)
{
	char detail[64];
	int writable = job->mkroot_fd >= 0 ? job->mkroot_fd : job->root_fd;
	int fd = open_in_root(job->root_fd, name, O_PATH | O_DIRECTORY);

	if (fd >= 0 || errno != ENOENT)
		return fd;
	snprintf(detail, sizeof detail, "/%s", name);
	/* A read-only rootfs without a writable twin cannot get it. */
	if (mkdirat(writable, name, mode) < 0 && errno != EEXIST)
		fail("missing directory", errno, detail);
	/* mkdir applied the umask; the sticky /tmp needs its bits exactly. */
	fd = open_in_root(writable, name, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		if (fchmod(fd, mode) < 0) {
			/* 0755 still works for everything but /tmp's sharing. */
		}
		close(fd);
	}
	return open_in_root(job->root_fd, name, O_PATH | O_DIRECTORY);
}

/* A fresh tmpfs on the container's /NAME (made if missing), its root
 * directory with `mode`. */
static void mount_tmpfs_on(const struct job *job, const char *name, mode_t mode, unsigned attrs)
{
	char path[16], step[24], mode_text[8];
	int target = needed_directory(job, name, mode), err = errno;

	snprintf(path, sizeof path, "/%s", name);
	if (target < 0) {
		snprintf(step, sizeof step, "open %s", path);
		fail(step, err, path);
	}
	snprintf(mode_text, sizeof mode_text, "%04o", (unsigned)mode);
	if (mount_fresh("tmpfs", mode_text, attrs, target) < 0) {
		err = errno;
		snprintf(step, sizeof step, "mount %s", path);
		fail(step, err, NULL);
	}
	close(target);
}

/* Creates the missing directories of `path` (relative) below root_fd, one
 * component at a time, each parent opened with RESOLVE_IN_ROOT, so a
 * symlink in the rootfs never leads out of it. */
static int make_path(int root_fd, const char *path)
{
	char prefix[4096], name[256];
	size_t len = strlen(path), i, start = 0;
	int parent, r, saved;

	if (len >= sizeof prefix) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (i = 0; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		if (i == start || i - start >= sizeof name) {
			if (i != start) {
				errno = ENAMETOOLONG;
				return -1;
			}
			start = i + 1;
			continue;
		}
		memcpy(prefix, path, start);
		prefix[start] = '\0';
		memcpy(name, path + start, i - start);
		name[i - start] = '\0';
		parent = open_in_root(root_fd, start ? prefix : ".", O_PATH | O_DIRECTORY);
		if (parent < 0)
			return -1;
		r = mkdirat(parent, name, 0755);
		saved = errno;
		close(parent);
		if (r < 0 && saved != EEXIST) {
			errno = saved;
			return -1;
		}
		start = i + 1;
	}
	return 0;
}

/* A bind target inside the rootfs; a missing one is created (with its
 * parents) where the rootfs lets us. */
static int bind_target(const struct job *job, const char *dst)
{
	int fd, writable = job->mkroot_fd >= 0 ? job->mkroot_fd : job->root_fd;

	while (*dst == '/')
		dst++;
	fd = open_in_root(job->root_fd, dst, O_PATH);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (make_path(writable, dst) < 0)
		return -1;
	return open_in_root(job->root_fd, dst, O_PATH);
}

/* The container's /dev: a tmpfs with the host's harmless devices bound in
 * (a user namespace may not create device nodes, only bind them), and the
 * terminal the command was given at its own /dev/pts path, so tty(1) finds
 * it. */
static void populate_dev(const struct job *job, const int *dev_fds, const int *tty_fds, char tty_names[3][64])
{
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
	};
	int dev, f;
	size_t i;

	mount_tmpfs_on(job, "dev", 0755, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
	/* Opened after the mount: an fd from before is the directory under it. */
	dev = open_in_root(job->root_fd, "dev", O_PATH | O_DIRECTORY);
	if (dev < 0)
		fail("mount /dev", errno, NULL);
	mkdirat(dev, "shm", 01777);
	mkdirat(dev, "pts", 0755);
	for (i = 0; i < N_DEVICES; i++) {
		f = openat(dev, DEVICES[i], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
		if (f < 0 || close(f) < 0 || move_mount(dev_fds[i], "", dev, DEVICES[i], MOVE_MOUNT_F_EMPTY_PATH) < 0)
			fail("bind the device node", errno, DEVICES[i]);
	}
	for (i = 0; i < 3; i++) {
		if (tty_fds[i] < 0)
			continue;
		/* "pts/3" from "/dev/pts/3"; fds sharing one terminal bind it once. */
		f = openat(dev, tty_names[i] + 5, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (f < 0 && errno == EEXIST)
			continue;
		if (f < 0 || close(f) < 0 || move_mount(tty_fds[i], "", dev, tty_names[i] + 5, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			fail("bind the terminal", errno, tty_names[i]);
	}
	for (i = 0; i < 4; i++)
		symlinkat(links[i][1], dev, links[i][0]);
	close(dev);
}

void stage_container(struct job *job)
{
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	int dev_fds[N_DEVICES], tty_fds[3] = { -1, -1, -1 }, target, r, i;
	char tty_names[3][64], path[32];

	if (unshare(CLONE_NEWNS | CLONE_NEWPID) < 0)
		fail("create the mount and pid namespaces", errno, NULL);
	/* Nothing done below may propagate back to the caller's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail("make the mount namespace private", errno, NULL);
	/* Everything taken from the host view, before anything covers it. */
	for (i = 0; i < job->n_binds; i++) {
		struct bind *b = &job->binds[i];
		if (!b->source)
			continue;
		b->clone_fd = open_tree(AT_FDCWD, b->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (b->clone_fd < 0)
			fail("clone the bind source", errno, b->source);
		if (b->read_only && mount_setattr(b->clone_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &ro, sizeof ro) < 0)
			fail("make the bind read-only", errno, b->source);
	}
	for (i = 0; i < (int)N_DEVICES; i++) {
		snprintf(path, sizeof path, "/dev/%s", DEVICES[i]);
		dev_fds[i] = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (dev_fds[i] < 0)
			fail("clone the device", errno, path);
	}
	for (i = 0; i < 3; i++) {
		if (!isatty(i) || ttyname_r(i, tty_names[i], sizeof tty_names[i]) != 0 || strncmp(tty_names[i], "/dev/pts/", 9) != 0)
			continue;
		/* By path: the fd's own mount belongs to the caller's namespace. */
		tty_fds[i] = open_tree(AT_FDCWD, tty_names[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (tty_fds[i] < 0)
			fail("clone the terminal", errno, tty_names[i]);
	}
	/* Any directory of ours will do to attach the rootfs: this mount
	 * namespace is private and pivot_root leaves it behind. */
	r = -1;
	errno = ENOENT;
	for (i = 0; STAGING[i] && r < 0 && errno == ENOENT; i++)
		r = move_mount(job->root_fd, "", AT_FDCWD, STAGING[i], MOVE_MOUNT_F_EMPTY_PATH);
	if (r < 0)
		fail("attach the rootfs", errno, NULL);
	/* The mount fd now refers to the attached rootfs: our root for *at(). */
	for (i = 0; i < job->n_binds; i++) {
		struct bind *b = &job->binds[i];
		int source = b->source ? b->clone_fd : b->fd;
		target = bind_target(job, b->target);
		if (target < 0)
			fail("create the bind target", errno, b->target);
		if (move_mount(source, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			fail("attach the bind", errno, b->target);
		close(target);
		close(source);
	}
	mount_tmpfs_on(job, "tmp", 01777, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	populate_dev(job, dev_fds, tty_fds, tty_names);
	target = needed_directory(job, "proc", 0555);
	if (target < 0)
		fail("open /proc", errno, "/proc");
	close(target);
	if (job->mkroot_fd >= 0)
		close(job->mkroot_fd);
}
