/* User namespaces made and inspected through a short-lived CLONE_VM child.
 *
 * A user namespace is owned by the euid of the task that unshares it, and
 * only a task inside a namespace makes /proc/PID/{uid,gid}_map show it, so
 * both jobs need a second task. A fork-style child copies Node's page
 * tables (~0.9 ms); a CLONE_VM child shares them (~0.25 ms) but then runs
 * on Node's memory, so it:
 *   - runs on its own mmap'ed stack and only issues raw syscalls (below):
 *     without CLONE_SETTLS it shares the calling thread's TLS, so glibc's
 *     syscall() would write that thread's errno, and glibc's set*id
 *     wrappers would signal every thread of Node;
 *   - starts with every signal blocked, so a signal to it (e.g. a terminal
 *     SIGINT to the process group) never runs one of Node's handlers;
 *   - has no exit signal, so Node never sees SIGCHLD; we reap it with
 *     waitpid(__WALL);
 *   - never returns: after reporting it blocks until the parent closes its
 *     end of the socket pair (or dies, which closes it too) and then calls
 *     exit directly.
 *
 * The namespace fd must not be opened by the parent through /proc/PID/ns/user:
 * once the child runs as the caller's uid, that open needs ptrace read
 * access, i.e. CAP_SYS_PTRACE, which the daemon does not keep. A task may
 * always open its own /proc/thread-self/ns/user, so the child opens it and
 * hands it over with SCM_RIGHTS on the socket pair. (A shared fd table,
 * CLONE_FILES, would also carry it, but the child would then hold the
 * parent's end too: neither the parent closing it nor its death could wake
 * the child, and the parent could not see the child die before reporting.) Writing and reading /proc/PID/{uid,gid}_map need no ptrace
 * access: root with CAP_SETUID/CAP_SETGID may write them, anyone may read. */
#include "nsmount.h"
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#if defined(__x86_64__)
static inline long raw_syscall4(long nr, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static inline long raw_syscall4(long nr, long a, long b, long c, long d)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
	return x0;
}
#else
#error "raw_syscall4 needs an assembly version for this architecture"
#endif

#define RAW(nr, a, b, c) raw_syscall4((nr), (long)(a), (long)(b), (long)(c), 0)
#define RAW4(nr, a, b, c, d) raw_syscall4((nr), (long)(a), (long)(b), (long)(c), (long)(d))

/* Which step failed, so the TypeScript side can name it. Keep in sync with
 * STEP_NAMES in src/native/userns.ts. */
enum nsm_userns_step {
	STEP_SETUP = 0,
	STEP_SETGROUPS = 1,
	STEP_SETRESGID = 2,
	STEP_SETRESUID = 3,
	STEP_UNSHARE = 4,
	STEP_SETNS = 5,
	STEP_WRITE_UID_MAP = 6,
	STEP_WRITE_GID_MAP = 7,
	STEP_OPEN_NS = 8,
	STEP_READ_UID_MAP = 9,
	STEP_READ_GID_MAP = 10,
	STEP_WRITE_SETGROUPS = 11,
};

enum child_job { JOB_CREATE, JOB_JOIN };

struct child_report {
	int step;
	int err; /* 0 or -errno */
};

struct child_args {
	enum child_job job;
	uint32_t uid, gid;
	int userns_fd;
	/* A SOCK_SEQPACKET pair: the child sends its report (and fd) on
	 * child_sock, then reads it until EOF. Its fd table is a copy, in
	 * which it closes parent_sock, so EOF means the parent closed its end
	 * or died; EOF on parent_sock means the child died. */
	int parent_sock, child_sock;
};

/* Sends the report, with fd (if >= 0) attached. Raw syscalls only, and no
 * struct initialisers that the compiler could turn into a memset call. */
static void child_send_report(int sock, struct child_report *rep, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *cmsg;

	iov.iov_base = rep;
	iov.iov_len = sizeof *rep;
	msg.msg_name = NULL;
	msg.msg_namelen = 0;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = NULL;
	msg.msg_controllen = 0;
	msg.msg_flags = 0;
	if (fd >= 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof control.buf;
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		*(int *)CMSG_DATA(cmsg) = fd;
	}
	/* If this fails the parent sees EOF and reports ECHILD. */
	RAW(SYS_sendmsg, sock, &msg, MSG_NOSIGNAL);
}

#define CHILD_STACK_SIZE (64 * 1024)

static int child_main(void *arg)
{
	const struct child_args *a = arg;
	struct child_report rep = { 0, 0 };
	uint64_t all = ~(uint64_t)0;
	int nsfd = -1;
	char byte;
	long r;

	raw_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, sizeof all);
	RAW(SYS_close, a->parent_sock, 0, 0);

	if (a->job == JOB_CREATE) {
		/* gid before uid: after dropping uid we could not change gid. */
		rep.step = STEP_SETGROUPS;
		r = RAW(SYS_setgroups, 0, NULL, 0);
		if (r == 0) {
			rep.step = STEP_SETRESGID;
			r = RAW(SYS_setresgid, a->gid, a->gid, a->gid);
		}
		if (r == 0) {
			rep.step = STEP_SETRESUID;
			r = RAW(SYS_setresuid, a->uid, a->uid, a->uid);
		}
		if (r == 0) {
			rep.step = STEP_UNSHARE;
			r = RAW(SYS_unshare, CLONE_NEWUSER, 0, 0);
		}
		if (r == 0) {
			/* Our own namespace: no ptrace check applies. */
			rep.step = STEP_OPEN_NS;
			r = RAW4(SYS_openat, AT_FDCWD, "/proc/thread-self/ns/user",
				 O_RDONLY | O_CLOEXEC, 0);
			if (r >= 0) {
				nsfd = (int)r;
				r = 0;
			}
		}
	} else {
		rep.step = STEP_SETNS;
		r = RAW(SYS_setns, a->userns_fd, CLONE_NEWUSER, 0);
	}
	rep.err = (int)r;
	child_send_report(a->child_sock, &rep, nsfd);
	/* The parent has its own reference now (or none, having failed). */
	if (nsfd >= 0)
		RAW(SYS_close, nsfd, 0, 0);

	do
		r = RAW(SYS_read, a->child_sock, &byte, 1);
	while (r == -EINTR);
	for (;;)
		RAW(SYS_exit, 0, 0, 0);
	__builtin_unreachable();
}

/* passed_fd is the fd the child sent (-1 if none); it stays with_child's
 * to close unless the job succeeds and the caller asked for it. */
typedef int (*parent_job_fn)(pid_t pid, int passed_fd, void *ctx, int *step);

static void close_keep_errno(int fd)
{
	int saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
}

/* Receives the child's report and the fd it may carry (*fd = -1 if none;
 * any extra or truncated fds are closed). Returns the byte count or -errno. */
static ssize_t recv_report(int sock, struct child_report *rep, int *fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof *rep };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof control.buf,
	};
	struct cmsghdr *cmsg;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return NSM_NEG_ERRNO();
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		const unsigned char *data = CMSG_DATA(cmsg);
		size_t count, i;
		int got;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++) {
			memcpy(&got, data + i * sizeof(int), sizeof got);
			if (*fd < 0)
				*fd = got;
			else
				close(got);
		}
	}
	return n;
}

/* Starts the child, waits for its report, runs `job` while the child sits
 * in its namespace, then releases and reaps it. Every path closes both
 * ends of the socket pair, and the fd the child sent unless it goes to
 * *fd_out; unmaps the stack, reaps the child, and restores the dumpable
 * flag. */
/* One child stack, reused: unmapping a stack the child touched costs a
 * TLB shootdown on every CPU running one of Node's threads. Calls come
 * from Node's main thread; anyone else finding it busy maps their own. */
static pthread_mutex_t shared_stack_lock = PTHREAD_MUTEX_INITIALIZER;
static void *shared_stack = MAP_FAILED;

static void *acquire_stack(bool *shared)
{
	void *stack;

	*shared = false;
	if (pthread_mutex_trylock(&shared_stack_lock) == 0) {
		if (shared_stack == MAP_FAILED)
			shared_stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (shared_stack != MAP_FAILED) {
			*shared = true;
			return shared_stack;
		}
		pthread_mutex_unlock(&shared_stack_lock);
	}
	stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	return stack;
}

static void release_stack(void *stack, bool shared)
{
	if (shared)
		pthread_mutex_unlock(&shared_stack_lock);
	else if (stack != MAP_FAILED)
		munmap(stack, CHILD_STACK_SIZE);
}

/* Parent and child take turns (each blocks while the other works), so
 * keeping both on the parent's CPU saves waking an idle CPU twice per
 * call, which dominates on a mostly idle VM. Best effort. */
static bool pin_to_current_cpu(cpu_set_t *saved)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	if (cpu < 0 || sched_getaffinity(0, sizeof *saved, saved) < 0)
		return false;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(0, sizeof one, &one) == 0;
}

static int with_child(struct child_args *a, parent_job_fn job, void *ctx, int *step, int *fd_out)
{
	int sock[2] = { -1, -1 };
	struct child_report rep;
	sigset_t all, old;
	cpu_set_t saved_cpus;
	bool pinned = false, shared_stack_in_use = false;
	void *stack = MAP_FAILED;
	pid_t pid = -1;
	ssize_t n;
	int ret = 0, passed_fd = -1, dumpable;

	/* The child's credential change (setresuid, or setns into a
	 * namespace owned by someone else) marks the mm it shares with us
	 * non-dumpable (commit_creds -> set_dumpable(suid_dumpable)); put
	 * the daemon's flag back once it is gone. */
	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	*step = STEP_SETUP;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0) {
		ret = NSM_NEG_ERRNO();
		goto out;
	}
	stack = acquire_stack(&shared_stack_in_use);
	if (stack == MAP_FAILED) {
		ret = NSM_NEG_ERRNO();
		goto out;
	}
	a->parent_sock = sock[0];
	a->child_sock = sock[1];

	pinned = pin_to_current_cpu(&saved_cpus);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(child_main, (char *)stack + CHILD_STACK_SIZE, CLONE_VM, a);
	if (pid < 0)
		ret = NSM_NEG_ERRNO();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		goto out;

	close(sock[1]);
	sock[1] = -1;

	n = recv_report(sock[0], &rep, &passed_fd);
	if (n < 0) {
		ret = (int)n;
	} else if (n != sizeof rep) {
		ret = -ECHILD; /* died without reporting */
	} else if (rep.err < 0) {
		*step = rep.step;
		ret = rep.err;
	} else {
		ret = job(pid, passed_fd, ctx, step);
		if (ret >= 0 && fd_out) {
			*fd_out = passed_fd;
			passed_fd = -1;
		}
	}

out:
	close_keep_errno(passed_fd);
	/* Closing sock[0] lets the child exit before we wait for it. */
	close_keep_errno(sock[0]);
	close_keep_errno(sock[1]);
	if (pid > 0) {
		while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
			;
	}
	release_stack(stack, shared_stack_in_use);
	if (pinned)
		sched_setaffinity(0, sizeof saved_cpus, &saved_cpus);
	if (dumpable == 1 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return ret;
}

static int write_proc_file(pid_t pid, const char *name, const char *text)
{
	char path[64];
	size_t len = strlen(text);
	ssize_t n;
	int fd, ret = 0;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return NSM_NEG_ERRNO();
	/* A map must be written in one write(2). */
	n = write(fd, text, len);
	if (n < 0)
		ret = NSM_NEG_ERRNO();
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

/* NUL-terminates; -ENOBUFS if the file does not fit. */
static int read_proc_file(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	size_t used = 0;
	ssize_t n;
	int fd, ret = 0;

	if (size == 0)
		return -ENOBUFS;
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NSM_NEG_ERRNO();
	for (;;) {
		if (used == size - 1) {
			ret = -ENOBUFS;
			break;
		}
		n = read(fd, buf + used, size - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = NSM_NEG_ERRNO();
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	close(fd);
	return ret;
}

struct create_ctx {
	const char *uid_map, *gid_map;
	bool deny_setgroups;
};

static int create_job(pid_t pid, int nsfd, void *ctx, int *step)
{
	const struct create_ctx *c = ctx;
	int r;

	if (nsfd < 0) { /* reported success but sent no fd */
		*step = STEP_OPEN_NS;
		return -EBADMSG;
	}
	*step = STEP_WRITE_UID_MAP;
	if ((r = write_proc_file(pid, "uid_map", c->uid_map)) < 0)
		return r;
	/* The kernel takes "deny" only while gid_map is still unwritten. */
	if (c->deny_setgroups) {
		*step = STEP_WRITE_SETGROUPS;
		if ((r = write_proc_file(pid, "setgroups", "deny")) < 0)
			return r;
	}
	*step = STEP_WRITE_GID_MAP;
	return write_proc_file(pid, "gid_map", c->gid_map);
}

/* Returns an fd to a new user namespace owned by owner_uid with the given
 * maps ("inside outside count\n" lines), written by us (root). setgroups
 * stays "allow" unless flags has NSM_USERNS_DENY_SETGROUPS. On failure
 * *failed_step (if not NULL) names the step. */
NSM_EXPORT int nsm_userns_new(uint32_t owner_uid, uint32_t owner_gid,
			      const char *uid_map, const char *gid_map,
			      uint32_t flags, int *failed_step)
{
	struct child_args a = { .job = JOB_CREATE, .uid = owner_uid, .gid = owner_gid, .userns_fd = -1 };
	struct create_ctx c = { uid_map, gid_map, (flags & NSM_USERNS_DENY_SETGROUPS) != 0 };
	int step, ret, fd = -1;

	ret = with_child(&a, create_job, &c, &step, &fd);
	if (ret < 0 && failed_step)
		*failed_step = step;
	return ret < 0 ? ret : fd;
}

struct read_ctx {
	char *uid_buf, *gid_buf;
	size_t uid_size, gid_size;
};

static int read_job(pid_t pid, int passed_fd, void *ctx, int *step)
{
	const struct read_ctx *c = ctx;
	int r;

	(void)passed_fd; /* the join child sends none */
	*step = STEP_READ_UID_MAP;
	if ((r = read_proc_file(pid, "uid_map", c->uid_buf, c->uid_size)) < 0)
		return r;
	*step = STEP_READ_GID_MAP;
	return read_proc_file(pid, "gid_map", c->gid_buf, c->gid_size);
}

/* Reads the maps of the user namespace behind userns_fd as NUL-terminated
 * text. We read them from outside the namespace, so the "outside" column
 * is in our own (the daemon's) user namespace, even for a nested one; the
 * child reading its own /proc/self/uid_map would show it in the parent of
 * the namespace instead. Opening another task's uid_map needs no ptrace
 * access (mode 0444, no ptrace check). */
NSM_EXPORT int nsm_userns_read_maps(int userns_fd, char *uid_buf, size_t uid_size,
				    char *gid_buf, size_t gid_size, int *failed_step)
{
	struct child_args a = { .job = JOB_JOIN, .userns_fd = userns_fd };
	struct read_ctx c = { uid_buf, gid_buf, uid_size, gid_size };
	int step, ret;

	ret = with_child(&a, read_job, &c, &step, NULL);
	if (ret < 0 && failed_step)
		*failed_step = step;
	return ret < 0 ? ret : 0;
}
