/* nsmount-run: starts a command as uid 0 of a user namespace nsmountd
 * handed out, on mounts it made (nsmountctl run and import-tar). An
 * ordinary exec'd program, so libc and fork are safe here, unlike in a
 * child sharing Node's memory.
 *
 * Node spawns it with argv[0] "nsmount-init" and an empty environment (so
 * the container's pid 1, a fork of it, shows neither Node nor the bus), and
 * with these fds:
 *   0-2  the command's standard input, output and error
 *   3    the job: NUL-terminated key/value strings, read to EOF
 *   4    the report: "+" right before the command's exec, and on failure
 *        "step\0errno\0detail\0"; close-on-exec, so EOF once the command
 *        runs. Nothing at all: the helper died before it got that far.
 *   5..  the namespace and mount fds the job names by number
 *
 * Job keys: userns FD, root FD (a mount), container 0|1, mkroot FD (a
 * writable mount of the same tree, for missing /proc, /dev, /tmp), argv S
 * and env S (repeated, in order), bindfd "FD\tTARGET" (a mount from the
 * daemon), bindpath "RO\tSOURCE\tTARGET" (a host path cloned here; RO is
 * 0 or 1).
 *
 * Plain mode: enter the namespace, chdir into the root, exec.
 * Container mode:
 *   helper: enter the namespace, new mount + pid namespaces, stage the
 *     rootfs, /dev, /tmp and binds, fork the init, hand it the terminal,
 *     forward signals from Node to it, take the terminal back, exit with
 *     its status
 *   init (pid 1): mount /proc, pivot_root, fork the command, reap, forward
 *     signals sent on purpose, exit with the command's status */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../new_syscalls.h"

#define JOB_FD 3
#define REPORT_FD 4
#define MAX_BINDS 64
#define START_FAILED 125

struct bind {
	int fd; /* a mount from the daemon, or -1 */
	const char *source; /* a host path to clone, or NULL */
	int read_only;
	const char *target;
	int clone_fd;
};

struct job {
	int userns_fd, root_fd, mkroot_fd, container;
	char **argv, **envp;
	int argc, envc;
	struct bind binds[MAX_BINDS];
	int n_binds;
};

static const char *const DEVICES[] = { "null", "zero", "full", "random", "urandom", "tty" };
#define N_DEVICES (sizeof DEVICES / sizeof DEVICES[0])
static const char *const STAGING[] = { "/tmp", "/mnt", "/var/tmp", NULL };

/* Signals Node forwards, and the init passes on. */
static const int FORWARDED[] = { SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH };

static void __attribute__((noreturn)) fail(const char *step, int err, const char *detail)
{
	char buf[4200];
	int n = snprintf(buf, sizeof buf, "%s%c%d%c%s%c", step, 0, err, 0, detail ? detail : "", 0);
	if (n > (int)sizeof buf)
		n = sizeof buf;
	if (write(REPORT_FD, buf, (size_t)n) < 0) {
		/* Node learns of the failure from the exit status alone. */
	}
	_exit(START_FAILED);
}

static char *read_all(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	if (!buf)
		fail("read the job", ENOMEM, NULL);
	for (;;) {
		if (n == cap && !(buf = realloc(buf, cap *= 2)))
			fail("read the job", ENOMEM, NULL);
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail("read the job", errno, NULL);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

static int parse_fd(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || (*end != '\0' && *end != '\t') || v < 0 || v > 1 << 20)
		fail("read the job", EINVAL, s);
	return (int)v;
}

static void parse_job(struct job *job)
{
	size_t len, off = 0;
	char *buf = read_all(JOB_FD, &len);
	int ai = 0, ei = 0;

	close(JOB_FD);
	memset(job, 0, sizeof *job);
	job->userns_fd = job->root_fd = job->mkroot_fd = -1;
	if (len == 0 || buf[len - 1] != '\0')
		fail("read the job", EINVAL, "not NUL-terminated");
	job->argv = calloc(len / 2 + 1, sizeof(char *));
	job->envp = calloc(len / 2 + 1, sizeof(char *));
	if (!job->argv || !job->envp)
		fail("read the job", ENOMEM, NULL);
	while (off < len) {
		char *key = buf + off, *value;
		off += strlen(key) + 1;
		if (off >= len)
			fail("read the job", EINVAL, key);
		value = buf + off;
		off += strlen(value) + 1;
		if (!strcmp(key, "userns")) {
			job->userns_fd = parse_fd(value);
		} else if (!strcmp(key, "root")) {
			job->root_fd = parse_fd(value);
		} else if (!strcmp(key, "mkroot")) {
			job->mkroot_fd = parse_fd(value);
		} else if (!strcmp(key, "container")) {
			job->container = !strcmp(value, "1");
		} else if (!strcmp(key, "argv")) {
			job->argv[ai++] = value;
		} else if (!strcmp(key, "env")) {
			job->envp[ei++] = value;
		} else if (!strcmp(key, "bindfd") || !strcmp(key, "bindpath")) {
			struct bind *b = &job->binds[job->n_binds];
			char *tab = strchr(value, '\t');
			if (job->n_binds == MAX_BINDS || !tab)
				fail("read the job", EINVAL, value);
			b->fd = -1;
			b->clone_fd = -1;
			if (key[4] == 'f') {
				b->fd = parse_fd(value);
				b->target = tab + 1;
			} else {
				char *tab2 = strchr(tab + 1, '\t');
				if (!tab2)
					fail("read the job", EINVAL, value);
				*tab2 = '\0';
				b->read_only = value[0] == '1';
				b->source = tab + 1;
				b->target = tab2 + 1;
			}
			job->n_binds++;
		} else {
			fail("read the job", EINVAL, key);
		}
	}
	job->argc = ai;
	job->envc = ei;
	if (ai == 0 || job->userns_fd < 0 || job->root_fd < 0)
		fail("read the job", EINVAL, "userns, root and argv are required");
}

static int open_in_root(int root_fd, const char *path, uint64_t flags)
{
	struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
	return fd;
}

/* A fresh filesystem (tmpfs, proc) attached at `target_fd`. */
static int mount_fresh(const char *fstype, const char *mode, unsigned attrs, int target_fd)
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

static void become_root(const struct job *job)
{
	/* gid before uid: after dropping uid we could not change gid. */
	if (setns(job->userns_fd, CLONE_NEWUSER) < 0)
		fail("enter the user namespace", errno, NULL);
	if (setgroups(0, NULL) < 0)
		fail("drop supplementary groups", errno, NULL);
	if (setresgid(0, 0, 0) < 0)
		fail("become gid 0", errno, NULL);
	if (setresuid(0, 0, 0) < 0)
		fail("become uid 0", errno, NULL);
}

/* The command's own process: default signal handling, nothing blocked. */
static void __attribute__((noreturn)) exec_command(const struct job *job)
{
	extern char **environ;
	sigset_t none;
	size_t i;

	for (i = 1; i < NSIG; i++)
		signal((int)i, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Only the standard fds reach the command (the report fd is
	 * close-on-exec already: its EOF tells Node the command runs). */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	/* execvp searches the PATH of the command's own environment. */
	environ = job->envp;
	if (write(REPORT_FD, "+", 1) < 0) {
		/* Node then reads a failure without the marker: still a failure. */
	}
	execvp(job->argv[0], job->argv);
	fail("execute the command", errno, job->argv[0]);
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

	dev = needed_directory(job, "dev", 0755);
	if (dev < 0)
		fail("open /dev", errno, "/dev");
	if (mount_fresh("tmpfs", "0755", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, dev) < 0)
		fail("mount /dev", errno, NULL);
	close(dev);
	/* Reopen: the old fd is the directory underneath the new tmpfs. */
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

static void stage_container(struct job *job)
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
	target = needed_directory(job, "tmp", 01777);
	if (target < 0)
		fail("open /tmp", errno, "/tmp");
	if (mount_fresh("tmpfs", "1777", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, target) < 0)
		fail("mount /tmp", errno, NULL);
	close(target);
	populate_dev(job, dev_fds, tty_fds, tty_names);
	target = needed_directory(job, "proc", 0555);
	if (target < 0)
		fail("open /proc", errno, "/proc");
	close(target);
	if (job->mkroot_fd >= 0)
		close(job->mkroot_fd);
}

static int signal_fd(int include_chld)
{
	sigset_t set;
	size_t i;
	int fd;

	sigemptyset(&set);
	for (i = 0; i < sizeof FORWARDED / sizeof FORWARDED[0]; i++)
		sigaddset(&set, FORWARDED[i]);
	if (include_chld)
		sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (fd < 0)
		fail("signalfd", errno, NULL);
	return fd;
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* pid 1 of the container. */
static void __attribute__((noreturn)) container_init(const struct job *job)
{
	struct signalfd_siginfo si;
	pid_t child, pid;
	int proc, sfd, status;
	sigset_t all;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "nsmount-init");
	/* /proc of the new pid namespace: only a member can mount it. */
	proc = open_in_root(job->root_fd, "proc", O_PATH | O_DIRECTORY);
	if (proc < 0 || mount_fresh("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, proc) < 0)
		fail("mount /proc", errno, NULL);
	close(proc);
	/* pivot_root(".", ".") stacks the old root under the new one, so no
	 * put_old directory is needed in a possibly read-only rootfs. */
	if (fchdir(job->root_fd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		fail("pivot_root", errno, NULL);
	close(job->root_fd);
	/* Every signal through the signalfd: an init drops those it has no
	 * handler for, but blocked ones are queued. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	sfd = signalfd(-1, &all, SFD_CLOEXEC);
	if (sfd < 0)
		fail("signalfd", errno, NULL);
	child = fork();
	if (child < 0)
		fail("fork the command", errno, NULL);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sfd);
		exec_command(job);
	}
	close(REPORT_FD);
	for (;;) {
		if (read(sfd, &si, sizeof si) != sizeof si)
			continue;
		if (si.ssi_signo == SIGCHLD) {
			while ((pid = waitpid(-1, &status, WNOHANG | __WALL)) > 0)
				if (pid == child)
					_exit(exit_code(status));
			continue;
		}
		/* A terminal signals the whole foreground group, the command
		 * included: pass on only what was sent on purpose. */
		if (si.ssi_code != SI_KERNEL)
			kill(child, (int)si.ssi_signo);
	}
}

/* Hands the terminal's foreground to `pgrp`; SIGTTOU must not stop us
 * when we are the ones in the background. */
static void set_foreground(int tty, pid_t pgrp)
{
	sigset_t ttou, old;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	if (tcsetpgrp(tty, pgrp) < 0) {
		/* Not our terminal's foreground to give: leave it. */
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(void)
{
	struct job job;
	struct signalfd_siginfo si;
	pid_t parent = getppid(), init;
	int sfd, status, tty = -1;

	if (fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC) < 0)
		_exit(START_FAILED);
	parse_job(&job);
	sfd = signal_fd(1);
	become_root(&job);
	/* After the credential change, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(START_FAILED);
	if (!job.container) {
		if (fchdir(job.root_fd) < 0)
			fail("enter the directory", errno, NULL);
		close(job.root_fd);
		close(job.userns_fd);
		close(sfd);
		exec_command(&job);
	}
	stage_container(&job);
	if (isatty(0) && tcgetpgrp(0) == getpgrp())
		tty = 0;
	init = fork();
	if (init < 0)
		fail("start the init", errno, NULL);
	if (init == 0) {
		close(sfd);
		/* Its own process group, in the terminal's foreground: job
		 * control and Ctrl-C reach the command, not nsmountctl. */
		setpgid(0, 0);
		if (tty >= 0)
			set_foreground(tty, getpid());
		container_init(&job);
	}
	setpgid(init, init);
	if (tty >= 0)
		set_foreground(tty, init);
	close(REPORT_FD);
	close(job.root_fd);
	close(job.userns_fd);
	for (;;) {
		if (read(sfd, &si, sizeof si) != sizeof si)
			continue;
		if (si.ssi_signo == SIGCHLD) {
			if (waitpid(init, &status, WNOHANG) == init)
				break;
			continue;
		}
		/* Node forwards what nsmountctl was sent; the same signal sent
		 * to nsmountctl's whole group reaches us too: pass it on once. */
		if ((pid_t)si.ssi_pid == parent)
			kill(init, (int)si.ssi_signo);
	}
	if (tty >= 0)
		set_foreground(tty, getpgrp());
	return exit_code(status);
}
