/* Starting a command inside a user namespace the caller was handed by
 * nsmountd, on a mount the daemon made for it: nsmountctl run and
 * import-tar. Node is never forked; the namespace work happens in children:
 *
 *   Node thread ──clone(CLONE_VM|CLONE_VFORK)──> setup child
 *     setns(userns), uid/gid 0 inside, and for a container:
 *     unshare(mount+pid), stage the rootfs, /dev, /tmp and binds
 *   setup child ──clone(CLONE_PARENT)──> first child (a copy, not CLONE_VM)
 *     container: pid 1 of the new pid namespace, mounts /proc,
 *       pivot_root, forks the command and stays as its init
 *     plain: execs the command in the rootfs directory
 *
 * CLONE_PARENT makes Node the parent of the first child, so Node reaps it
 * (waitpid(__WALL); no exit signal, Node never sees SIGCHLD) and the setup
 * child can exit as soon as it is done. The setup child shares Node's
 * memory, so it and everything it clones use raw syscalls only (see
 * raw_syscall.h) and no malloc; Node's thread is suspended meanwhile
 * (CLONE_VFORK), and its signals are blocked across the clone so none of
 * Node's handlers ever runs in a child. */
#include "nsmount.h"
#include "raw_syscall.h"
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "new_syscalls.h"

#define NSM_OPEN_TREE_CLONE 1
#define NSM_AT_EMPTY_PATH 0x1000
#define NSM_AT_RECURSIVE 0x8000
#define NSM_MOVE_MOUNT_F_EMPTY_PATH 0x04
#define NSM_MOVE_MOUNT_T_EMPTY_PATH 0x40
#define NSM_FSOPEN_CLOEXEC 1
#define NSM_FSMOUNT_CLOEXEC 1
#define NSM_FSCONFIG_SET_STRING 1
#define NSM_FSCONFIG_CMD_CREATE 6
#define NSM_MOUNT_ATTR_RDONLY 0x1
#define NSM_MOUNT_ATTR_NOSUID 0x2
#define NSM_MOUNT_ATTR_NODEV 0x4
#define NSM_MOUNT_ATTR_NOEXEC 0x8
#define NSM_RESOLVE_NO_MAGICLINKS 0x02
#define NSM_RESOLVE_IN_ROOT 0x10
#define NSM_CLOSE_RANGE_CLOEXEC 4
#define NSM_SI_KERNEL 0x80

struct nsm_open_how {
	uint64_t flags, mode, resolve;
};

struct nsm_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* Layout of struct signalfd_siginfo (128 bytes); only the head is read. */
struct nsm_signalfd_siginfo {
	uint32_t ssi_signo;
	int32_t ssi_errno;
	int32_t ssi_code;
	uint32_t ssi_pid;
	uint8_t rest[112];
};

/* Flags of nsm_container_start; keep in sync with src/native/container.ts. */
#define NSM_RUN_CONTAINER 1 /* pid + mount namespace, pivot_root into the rootfs */

/* Which step failed; keep in sync with STEP_NAMES in src/native/container.ts. */
enum nsm_run_step {
	RUN_SETUP = 0,
	RUN_SETNS,
	RUN_SETGROUPS,
	RUN_SETRESGID,
	RUN_SETRESUID,
	RUN_UNSHARE,
	RUN_MAKE_PRIVATE,
	RUN_CLONE_BIND,
	RUN_READ_ONLY_BIND,
	RUN_CLONE_DEVICE,
	RUN_ATTACH_ROOT,
	RUN_OPEN_ROOT,
	RUN_BIND_TARGET,
	RUN_ATTACH_BIND,
	RUN_MOUNT_TMP,
	RUN_MOUNT_DEV,
	RUN_DEVICE_NODE,
	RUN_START_INIT,
	RUN_MOUNT_PROC,
	RUN_PIVOT_ROOT,
	RUN_SIGNALFD,
	RUN_FORK,
	RUN_EXEC,
	RUN_CHDIR,
	RUN_STDIN,
};

struct run_report {
	int step;
	int err; /* -errno */
	int index; /* which bind, for the bind steps */
};

#define MAX_BINDS 64
#define N_DEVICES 6
static const char *const DEVICES[N_DEVICES] = { "null", "zero", "full", "random", "urandom", "tty" };
static const char *const STAGING[] = { "/tmp", "/mnt", "/var/tmp", NULL };
static const char DEFAULT_PATH[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct run_job {
	int userns_fd, rootfs_fd, stdin_fd;
	uint32_t flags;
	char **argv, **envp;
	int n_binds;
	const char *bind_src[MAX_BINDS], *bind_dst[MAX_BINDS];
	int bind_ro[MAX_BINDS];
	int report_w;
	void *init_stack;
	size_t init_stack_size;
	/* Written by the setup child for Node (shared memory). */
	struct run_report setup_report;
	int first_pid;
	/* Set up by the setup child, inherited by the first child. */
	int root_fd;
};

static inline int fail(struct run_report *rep, int step, long err, int index)
{
	rep->step = step;
	rep->err = (int)err;
	rep->index = index;
	return -1;
}

static long open_in_root(int root_fd, const char *path, uint64_t flags)
{
	struct nsm_open_how how = { .flags = flags | O_CLOEXEC, .mode = 0,
				    .resolve = NSM_RESOLVE_IN_ROOT | NSM_RESOLVE_NO_MAGICLINKS };
	return RAW4(SYS_openat2, root_fd, path, &how, sizeof how);
}

/* A fresh filesystem (tmpfs, proc) attached at `target_fd`. */
static long mount_fresh(const char *fstype, const char *mode, uint64_t attrs, int target_fd)
{
	long fs, mnt, r;

	fs = RAW2(SYS_fsopen, fstype, NSM_FSOPEN_CLOEXEC);
	if (fs < 0)
		return fs;
	r = 0;
	if (mode)
		r = RAW5(SYS_fsconfig, fs, NSM_FSCONFIG_SET_STRING, "mode", mode, 0);
	if (r == 0)
		r = RAW5(SYS_fsconfig, fs, NSM_FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (r == 0) {
		mnt = RAW3(SYS_fsmount, fs, NSM_FSMOUNT_CLOEXEC, attrs);
		if (mnt < 0) {
			r = mnt;
		} else {
			r = RAW5(SYS_move_mount, mnt, "", target_fd, "",
				 NSM_MOVE_MOUNT_F_EMPTY_PATH | NSM_MOVE_MOUNT_T_EMPTY_PATH);
			RAW1(SYS_close, mnt);
		}
	}
	RAW1(SYS_close, fs);
	return r;
}

static int become_root(struct run_report *rep)
{
	long r;
	/* gid before uid: after dropping uid we could not change gid. */
	if ((r = RAW2(SYS_setgroups, 0, NULL)) < 0)
		return fail(rep, RUN_SETGROUPS, r, 0);
	if ((r = RAW3(SYS_setresgid, 0, 0, 0)) < 0)
		return fail(rep, RUN_SETRESGID, r, 0);
	if ((r = RAW3(SYS_setresuid, 0, 0, 0)) < 0)
		return fail(rep, RUN_SETRESUID, r, 0);
	return 0;
}

static size_t str_len(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* Execs argv[0], searching PATH from the environment when it has no '/'.
 * Returns only on failure, with -errno. */
static long exec_command(char **argv, char **envp)
{
	const char *path = DEFAULT_PATH, *p;
	char candidate[4096];
	long r, saved = -ENOENT;
	size_t i, n, len;

	for (i = 0; argv[0][i]; i++)
		if (argv[0][i] == '/')
			return RAW3(SYS_execve, argv[0], argv, envp);
	for (i = 0; envp[i]; i++)
		if (envp[i][0] == 'P' && envp[i][1] == 'A' && envp[i][2] == 'T' && envp[i][3] == 'H' && envp[i][4] == '=')
			path = envp[i] + 5;
	len = str_len(argv[0]);
	for (p = path;; p++) {
		const char *end = p;
		while (*end && *end != ':')
			end++;
		n = (size_t)(end - p);
		if (n == 0) {
			candidate[0] = '.';
			n = 1;
		} else if (n + 1 + len + 1 <= sizeof candidate) {
			memcpy(candidate, p, n);
		} else {
			n = 0;
		}
		if (n > 0 && n + 1 + len + 1 <= sizeof candidate) {
			candidate[n] = '/';
			memcpy(candidate + n + 1, argv[0], len + 1);
			r = RAW3(SYS_execve, candidate, argv, envp);
			/* Keep looking past missing files; remember a real failure. */
			if (r != -ENOENT && r != -ENOTDIR)
				saved = r;
		}
		if (!*end)
			break;
		p = end;
	}
	return saved;
}

/* The command's own process: default signal handling (Node ignores
 * SIGPIPE, and a copy of its handlers must not survive), nothing blocked,
 * only fds 0-2 kept. */
static void __attribute__((noreturn)) run_command(struct run_job *job)
{
	struct run_report rep = { RUN_EXEC, 0, 0 };
	struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = { SIG_DFL, 0, NULL, 0 };
	uint64_t none = 0;
	int sig;

	for (sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			RAW4(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
	if (job->stdin_fd >= 0 && job->stdin_fd != 0) {
		rep.err = (int)RAW3(SYS_dup3, job->stdin_fd, 0, 0);
		if (rep.err < 0) {
			rep.step = RUN_STDIN;
			RAW3(SYS_write, job->report_w, &rep, sizeof rep);
			for (;;)
				RAW1(SYS_exit_group, 126);
		}
	}
	RAW3(SYS_close_range, 3, ~0U, NSM_CLOSE_RANGE_CLOEXEC);
	/* Node marks its own stdio close-on-exec; the command needs them. */
	for (sig = 0; sig <= 2; sig++)
		RAW3(SYS_fcntl, sig, F_SETFD, 0);
	/* Set after the credential change, which would clear it. */
	RAW2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
	RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
	rep.err = (int)exec_command(job->argv, job->envp);
	RAW3(SYS_write, job->report_w, &rep, sizeof rep);
	for (;;)
		RAW1(SYS_exit_group, rep.err == -ENOENT ? 127 : 126);
}

/* pid 1 of the container: mounts /proc, pivots into the rootfs, forks the
 * command and stays as its init: reaps orphans and forwards signals. */
static int container_init(void *arg)
{
	struct run_job *job = arg;
	struct run_report rep = { 0, 0, 0 };
	struct nsm_signalfd_siginfo si;
	uint64_t all = ~(uint64_t)0;
	long proc, r, sfd, child;
	int status, code = 1;

	RAW2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
	/* A copy of Node without exec: name it for ps. */
	RAW2(SYS_prctl, PR_SET_NAME, "nsmount-init");
	/* /proc of the new pid namespace: only a member can mount it. */
	proc = open_in_root(job->root_fd, "proc", O_PATH | O_DIRECTORY);
	if (proc < 0) {
		fail(&rep, RUN_MOUNT_PROC, proc, 0);
		goto report;
	}
	r = mount_fresh("proc", NULL, NSM_MOUNT_ATTR_NOSUID | NSM_MOUNT_ATTR_NODEV | NSM_MOUNT_ATTR_NOEXEC, (int)proc);
	RAW1(SYS_close, proc);
	if (r < 0) {
		fail(&rep, RUN_MOUNT_PROC, r, 0);
		goto report;
	}
	/* pivot_root(".", ".") stacks the old root under the new one, so no
	 * put_old directory is needed in a possibly read-only rootfs. */
	if ((r = RAW1(SYS_fchdir, job->root_fd)) < 0 || (r = RAW2(SYS_pivot_root, ".", ".")) < 0 ||
	    (r = RAW2(SYS_umount2, ".", MNT_DETACH)) < 0 || (r = RAW1(SYS_chdir, "/")) < 0) {
		fail(&rep, RUN_PIVOT_ROOT, r, 0);
		goto report;
	}
	RAW1(SYS_close, job->root_fd);
	/* Blocked signals are queued even for an init, which otherwise drops
	 * every signal it has no handler for. */
	sfd = RAW4(SYS_signalfd4, -1, &all, sizeof all, O_CLOEXEC);
	if (sfd < 0) {
		fail(&rep, RUN_SIGNALFD, sfd, 0);
		goto report;
	}
	child = RAW5(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (child < 0) {
		fail(&rep, RUN_FORK, child, 0);
		goto report;
	}
	if (child == 0)
		run_command(job);
	RAW1(SYS_close, job->report_w);
	for (;;) {
		r = RAW3(SYS_read, sfd, &si, sizeof si);
		if (r != sizeof si)
			continue;
		if (si.ssi_signo == SIGCHLD) {
			long pid;
			while ((pid = RAW4(SYS_wait4, -1, &status, WNOHANG | __WALL, NULL)) > 0) {
				if (pid == child) {
					code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
					for (;;)
						RAW1(SYS_exit_group, code);
				}
			}
			continue;
		}
		/* The terminal already signalled the whole foreground process
		 * group, the command included; pass on only signals sent on
		 * purpose (nsmountctl forwarding, kill). */
		if (si.ssi_code != NSM_SI_KERNEL)
			RAW2(SYS_kill, child, si.ssi_signo);
	}

report:
	RAW3(SYS_write, job->report_w, &rep, sizeof rep);
	for (;;)
		RAW1(SYS_exit_group, 127);
	return 0;
}

static int plain_first(void *arg)
{
	run_command(arg);
}

/* Everything the container needs that must come from the caller's view:
 * bind sources and host devices, cloned before anything is covered. */
static int clone_sources(struct run_job *job, int *bind_fds, int *dev_fds, struct run_report *rep)
{
	struct nsm_mount_attr ro = { .attr_set = NSM_MOUNT_ATTR_RDONLY };
	char dev[16] = "/dev/";
	long fd, r;
	int i;

	for (i = 0; i < job->n_binds; i++) {
		fd = RAW3(SYS_open_tree, AT_FDCWD, job->bind_src[i], NSM_OPEN_TREE_CLONE | O_CLOEXEC | NSM_AT_RECURSIVE);
		if (fd < 0)
			return fail(rep, RUN_CLONE_BIND, fd, i);
		bind_fds[i] = (int)fd;
		if (job->bind_ro[i]) {
			r = RAW5(SYS_mount_setattr, fd, "", NSM_AT_EMPTY_PATH | NSM_AT_RECURSIVE, &ro, sizeof ro);
			if (r < 0)
				return fail(rep, RUN_READ_ONLY_BIND, r, i);
		}
	}
	for (i = 0; i < N_DEVICES; i++) {
		memcpy(dev + 5, DEVICES[i], str_len(DEVICES[i]) + 1);
		fd = RAW3(SYS_open_tree, AT_FDCWD, dev, NSM_OPEN_TREE_CLONE | O_CLOEXEC);
		if (fd < 0)
			return fail(rep, RUN_CLONE_DEVICE, fd, i);
		dev_fds[i] = (int)fd;
	}
	return 0;
}

/* Creates the missing directories of `path` below root_fd, one component
 * at a time: each parent is opened with RESOLVE_IN_ROOT, so a symlink in
 * the rootfs can never lead the mkdir out of it. */
static long make_parents(int root_fd, const char *path)
{
	char prefix[4096];
	size_t len = str_len(path), i;
	long parent, r;

	if (len >= sizeof prefix)
		return -ENAMETOOLONG;
	memcpy(prefix, path, len + 1);
	for (i = 1; i < len; i++) {
		if (prefix[i] != '/')
			continue;
		prefix[i] = '\0';
		{
			/* Split the prefix into its parent and last component. */
			size_t j = i;
			while (j > 0 && prefix[j - 1] != '/')
				j--;
			if (j == 0) {
				r = RAW3(SYS_mkdirat, root_fd, prefix, 0755);
			} else {
				prefix[j - 1] = '\0';
				parent = open_in_root(root_fd, prefix, O_PATH | O_DIRECTORY);
				prefix[j - 1] = '/';
				if (parent < 0)
					return parent;
				r = RAW3(SYS_mkdirat, parent, prefix + j, 0755);
				RAW1(SYS_close, parent);
			}
		}
		prefix[i] = '/';
		if (r < 0 && r != -EEXIST)
			return r;
	}
	return 0;
}

/* A bind target inside the rootfs, created empty (with its parents) when
 * missing and the rootfs lets us. */
static long bind_target(int root_fd, const char *dst, int source_fd)
{
	struct stat st;
	long fd, r, parent;
	size_t j;

	fd = open_in_root(root_fd, dst, O_PATH);
	if (fd != -ENOENT)
		return fd;
	if ((r = RAW4(SYS_newfstatat, source_fd, "", &st, NSM_AT_EMPTY_PATH)) < 0)
		return r;
	while (*dst == '/')
		dst++;
	if ((r = make_parents(root_fd, dst)) < 0)
		return r;
	j = str_len(dst);
	while (j > 0 && dst[j - 1] != '/')
		j--;
	if (j == 0) {
		parent = open_in_root(root_fd, ".", O_PATH | O_DIRECTORY);
	} else {
		char dir[4096];
		if (j >= sizeof dir)
			return -ENAMETOOLONG;
		memcpy(dir, dst, j - 1);
		dir[j - 1] = '\0';
		parent = open_in_root(root_fd, dir, O_PATH | O_DIRECTORY);
	}
	if (parent < 0)
		return parent;
	if (S_ISDIR(st.st_mode)) {
		r = RAW3(SYS_mkdirat, parent, dst + j, 0755);
	} else {
		r = RAW4(SYS_openat, parent, dst + j, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (r >= 0)
			r = RAW1(SYS_close, r);
	}
	RAW1(SYS_close, parent);
	if (r < 0)
		return r;
	return open_in_root(root_fd, dst, O_PATH);
}

/* The container's /dev: a tmpfs with the host's harmless devices bound in
 * (a user namespace may not create device nodes, only bind them). */
static int populate_dev(int root_fd, const int *dev_fds, struct run_report *rep)
{
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
	};
	long dev, r;
	int i;

	dev = open_in_root(root_fd, "dev", O_PATH | O_DIRECTORY);
	if (dev < 0)
		return fail(rep, RUN_MOUNT_DEV, dev, 0);
	r = mount_fresh("tmpfs", "0755", NSM_MOUNT_ATTR_NOSUID | NSM_MOUNT_ATTR_NOEXEC, (int)dev);
	RAW1(SYS_close, dev);
	if (r < 0)
		return fail(rep, RUN_MOUNT_DEV, r, 0);
	/* Reopen: the old fd is the directory underneath the new tmpfs. */
	dev = open_in_root(root_fd, "dev", O_PATH | O_DIRECTORY);
	if (dev < 0)
		return fail(rep, RUN_MOUNT_DEV, dev, 0);
	for (i = 0; i < N_DEVICES; i++) {
		r = RAW4(SYS_openat, dev, DEVICES[i], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
		if (r >= 0)
			r = RAW1(SYS_close, r);
		if (r >= 0)
			r = RAW5(SYS_move_mount, dev_fds[i], "", dev, DEVICES[i], NSM_MOVE_MOUNT_F_EMPTY_PATH);
		if (r < 0) {
			RAW1(SYS_close, dev);
			return fail(rep, RUN_DEVICE_NODE, r, i);
		}
	}
	for (i = 0; i < 4; i++)
		RAW3(SYS_symlinkat, links[i][1], dev, links[i][0]);
	RAW3(SYS_mkdirat, dev, "shm", 01777);
	RAW3(SYS_mkdirat, dev, "pts", 0755);
	RAW1(SYS_close, dev);
	return 0;
}

static int stage_container(struct run_job *job, struct run_report *rep)
{
	int bind_fds[MAX_BINDS], dev_fds[N_DEVICES];
	long r, target;
	int i;

	if ((r = RAW1(SYS_unshare, CLONE_NEWNS | CLONE_NEWPID)) < 0)
		return fail(rep, RUN_UNSHARE, r, 0);
	/* Nothing done below may propagate back to the caller's namespace. */
	if ((r = RAW5(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) < 0)
		return fail(rep, RUN_MAKE_PRIVATE, r, 0);
	if (clone_sources(job, bind_fds, dev_fds, rep) < 0)
		return -1;
	/* Any directory of ours will do to attach the rootfs: this mount
	 * namespace is private and pivot_root leaves it behind. */
	r = -ENOENT;
	for (i = 0; STAGING[i] && r == -ENOENT; i++)
		r = RAW5(SYS_move_mount, job->rootfs_fd, "", AT_FDCWD, STAGING[i], NSM_MOVE_MOUNT_F_EMPTY_PATH);
	if (r < 0)
		return fail(rep, RUN_ATTACH_ROOT, r, 0);
	/* The mount fd now refers to the attached rootfs: our root for *at(). */
	job->root_fd = job->rootfs_fd;
	for (i = 0; i < job->n_binds; i++) {
		target = bind_target(job->root_fd, job->bind_dst[i], bind_fds[i]);
		if (target < 0)
			return fail(rep, RUN_BIND_TARGET, target, i);
		r = RAW5(SYS_move_mount, bind_fds[i], "", target, "", NSM_MOVE_MOUNT_F_EMPTY_PATH | NSM_MOVE_MOUNT_T_EMPTY_PATH);
		RAW1(SYS_close, target);
		if (r < 0)
			return fail(rep, RUN_ATTACH_BIND, r, i);
	}
	target = open_in_root(job->root_fd, "tmp", O_PATH | O_DIRECTORY);
	if (target < 0)
		return fail(rep, RUN_MOUNT_TMP, target, 0);
	r = mount_fresh("tmpfs", "1777", NSM_MOUNT_ATTR_NOSUID | NSM_MOUNT_ATTR_NODEV, (int)target);
	RAW1(SYS_close, target);
	if (r < 0)
		return fail(rep, RUN_MOUNT_TMP, r, 0);
	return populate_dev(job->root_fd, dev_fds, rep);
}

static int setup_child(void *arg)
{
	struct run_job *job = arg;
	struct run_report *rep = &job->setup_report;
	long r, pid;

	if ((r = RAW2(SYS_setns, job->userns_fd, CLONE_NEWUSER)) < 0) {
		fail(rep, RUN_SETNS, r, 0);
		goto out;
	}
	if (become_root(rep) < 0)
		goto out;
	if (job->flags & NSM_RUN_CONTAINER) {
		if (stage_container(job, rep) < 0)
			goto out;
	} else if ((r = RAW1(SYS_fchdir, job->rootfs_fd)) < 0) {
		fail(rep, RUN_CHDIR, r, 0);
		goto out;
	}
	/* Exit signal 0 (from our own), parent Node: see the top comment.
	 * glibc's clone() only sets up the stack and calls the function. */
	pid = clone((job->flags & NSM_RUN_CONTAINER) ? container_init : plain_first,
		    (char *)job->init_stack + job->init_stack_size, CLONE_PARENT, job);
	if (pid < 0) {
		/* glibc's wrapper stored errno in Node's suspended thread;
		 * clone failing here is rare enough to name it only. */
		fail(rep, RUN_START_INIT, -EAGAIN, 0);
		goto out;
	}
	job->first_pid = (int)pid;
out:
	for (;;)
		RAW1(SYS_exit, 0);
	return 0;
}

static void close_keep_errno(int fd)
{
	int saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
}

/* Splits `count` NUL-terminated strings packed in `buf` into a
 * NULL-terminated array (malloc'ed: this runs in Node's thread). */
static char **split_strings(const char *buf, size_t len, uint32_t count)
{
	char **out = calloc((size_t)count + 1, sizeof *out);
	size_t off = 0;
	uint32_t i;

	if (!out)
		return NULL;
	for (i = 0; i < count; i++) {
		if (off >= len) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		out[i] = (char *)buf + off;
		off += strnlen(buf + off, len - off) + 1;
	}
	return out;
}

#define STACK_SIZE (256 * 1024)

/* Starts `argv` (argc strings packed NUL-separated) with environment `env`
 * as uid 0 of the user namespace `userns_fd`, in the directory tree of the
 * detached or attached mount `rootfs_fd`. With NSM_RUN_CONTAINER it runs
 * in new mount and pid namespaces, pivoted into the rootfs, with /proc,
 * /dev and /tmp; `binds` holds n_binds triples "src\0dst\0ro|rw\0".
 * Returns the pid of the first child (Node's own child, to be reaped with
 * nsm_container_wait) once the command has been exec'ed, or -errno with
 * the step (and bind index) that failed. `stdin_fd` (or -1 to inherit
 * Node's) becomes the command's standard input. */
NSM_EXPORT int nsm_container_start(int userns_fd, int rootfs_fd, int stdin_fd, uint32_t flags,
				   const char *argv_buf, size_t argv_len, uint32_t argc,
				   const char *env_buf, size_t env_len, uint32_t envc,
				   const char *binds_buf, size_t binds_len, uint32_t n_binds,
				   int *failed_step, int *failed_index)
{
	struct run_job *job = NULL;
	char **binds = NULL;
	struct run_report rep = { RUN_SETUP, 0, 0 };
	int report[2] = { -1, -1 };
	void *stacks = MAP_FAILED;
	sigset_t all, old;
	pid_t setup = -1;
	int ret = 0, dumpable;
	uint32_t i;
	ssize_t n;

	if (argc == 0 || n_binds > MAX_BINDS) {
		ret = -EINVAL;
		goto out;
	}
	job = calloc(1, sizeof *job);
	if (!job) {
		ret = -ENOMEM;
		goto out;
	}
	job->userns_fd = userns_fd;
	job->rootfs_fd = rootfs_fd;
	job->stdin_fd = stdin_fd;
	job->flags = flags;
	job->root_fd = -1;
	job->first_pid = -1;
	job->n_binds = (int)n_binds;
	job->argv = split_strings(argv_buf, argv_len, argc);
	job->envp = split_strings(env_buf, env_len, envc);
	binds = split_strings(binds_buf, binds_len, n_binds * 3);
	if (!job->argv || !job->envp || !binds) {
		ret = NSM_NEG_ERRNO();
		goto out;
	}
	for (i = 0; i < n_binds; i++) {
		job->bind_src[i] = binds[3 * i];
		job->bind_dst[i] = binds[3 * i + 1];
		job->bind_ro[i] = strcmp(binds[3 * i + 2], "ro") == 0;
	}
	if (pipe2(report, O_CLOEXEC) < 0) {
		ret = NSM_NEG_ERRNO();
		goto out;
	}
	job->report_w = report[1];
	stacks = mmap(NULL, 2 * STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stacks == MAP_FAILED) {
		ret = NSM_NEG_ERRNO();
		goto out;
	}
	job->init_stack = (char *)stacks + STACK_SIZE;
	job->init_stack_size = STACK_SIZE;

	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* CLONE_VFORK: we resume once the setup child has exited. */
	setup = clone(setup_child, (char *)stacks + STACK_SIZE, CLONE_VM | CLONE_VFORK, job);
	if (setup < 0)
		ret = NSM_NEG_ERRNO();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (setup > 0)
		while (waitpid(setup, NULL, __WALL) < 0 && errno == EINTR)
			;
	/* The setup child's credential change marked our shared mm
	 * non-dumpable; put Node's flag back. */
	if (dumpable == 1 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (ret < 0)
		goto out;
	close(report[1]);
	report[1] = -1;
	if (job->setup_report.err < 0) {
		rep = job->setup_report;
		ret = rep.err;
		goto out;
	}
	/* EOF: the command was exec'ed (its copy of the pipe is
	 * close-on-exec) and init closed its copy. */
	do
		n = read(report[0], &rep, sizeof rep);
	while (n < 0 && errno == EINTR);
	if (n == sizeof rep && rep.err < 0) {
		ret = rep.err;
	} else if (n != 0) {
		ret = n < 0 ? NSM_NEG_ERRNO() : -EIO;
		rep.step = RUN_SETUP;
	} else if (job->first_pid <= 0) {
		/* The setup child died before it reported or started init
		 * (killed, or a seccomp filter): there is nothing to wait for. */
		ret = -ECHILD;
		rep.step = RUN_SETUP;
	} else {
		ret = job->first_pid;
	}
	/* kill(-1) would signal every process the caller may signal, and
	 * kill(0) its whole process group. */
	if (ret < 0 && job->first_pid > 0) {
		kill(job->first_pid, SIGKILL);
		while (waitpid(job->first_pid, NULL, __WALL) < 0 && errno == EINTR)
			;
	}

out:
	if (ret < 0) {
		if (failed_step)
			*failed_step = rep.step;
		if (failed_index)
			*failed_index = rep.index;
	}
	close_keep_errno(report[0]);
	close_keep_errno(report[1]);
	if (stacks != MAP_FAILED)
		munmap(stacks, 2 * STACK_SIZE);
	if (job) {
		free(job->argv);
		free(job->envp);
		free(job);
	}
	free(binds);
	return ret;
}

/* Waits for the first child; returns its wait status. Blocks: call it
 * from a worker thread. */
NSM_EXPORT int nsm_container_wait(int pid)
{
	int status;

	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR)
			return NSM_NEG_ERRNO();
	return status;
}
