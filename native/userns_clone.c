/* The parent's half of the userns child: start it, hear its report, run
 * a job while it waits in its namespace, and always release and reap it. */
#include "nsmount.h"
#include "userns_child.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

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

/* Every path closes both ends of the socket pair, and the fd the child
 * sent unless it goes to *fd_out; unmaps the stack, reaps the child, and
 * restores the dumpable flag. */
int userns_with_child(struct child_args *a, parent_job_fn job, void *ctx, int *step, int *fd_out)
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
	*step = NSM_USERNS_STEP_SETUP;
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
	pid = clone(userns_child_main, (char *)stack + CHILD_STACK_SIZE, CLONE_VM, a);
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
