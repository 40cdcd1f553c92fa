/* The child's half: it runs on Node's memory, so raw syscalls only (see
 * userns_child.h). */
#include "nsmount.h"
#include "raw_syscall.h"
#include "userns_child.h"
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>

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
	RAW3(SYS_sendmsg, sock, &msg, MSG_NOSIGNAL);
}

int userns_child_main(void *arg)
{
	const struct child_args *a = arg;
	struct child_report rep = { 0, 0 };
	uint64_t all = ~(uint64_t)0;
	int nsfd = -1;
	char byte;
	long r;

	RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, sizeof all);
	RAW3(SYS_close, a->parent_sock, 0, 0);

	if (a->job == JOB_CREATE) {
		/* gid before uid: after dropping uid we could not change gid. */
		rep.step = NSM_USERNS_STEP_SETGROUPS;
		r = RAW3(SYS_setgroups, 0, NULL, 0);
		if (r == 0) {
			rep.step = NSM_USERNS_STEP_SETRESGID;
			r = RAW3(SYS_setresgid, a->gid, a->gid, a->gid);
		}
		if (r == 0) {
			rep.step = NSM_USERNS_STEP_SETRESUID;
			r = RAW3(SYS_setresuid, a->uid, a->uid, a->uid);
		}
		if (r == 0) {
			rep.step = NSM_USERNS_STEP_UNSHARE;
			r = RAW3(SYS_unshare, CLONE_NEWUSER, 0, 0);
		}
		if (r == 0) {
			/* Our own namespace: no ptrace check applies. */
			rep.step = NSM_USERNS_STEP_OPEN_NS;
			r = RAW4(SYS_openat, AT_FDCWD, "/proc/thread-self/ns/user",
				 O_RDONLY | O_CLOEXEC, 0);
			if (r >= 0) {
				nsfd = (int)r;
				r = 0;
			}
		}
	} else {
		rep.step = NSM_USERNS_STEP_SETNS;
		r = RAW3(SYS_setns, a->userns_fd, CLONE_NEWUSER, 0);
	}
	rep.err = (int)r;
	child_send_report(a->child_sock, &rep, nsfd);
	/* The parent has its own reference now (or none, having failed). */
	if (nsfd >= 0)
		RAW3(SYS_close, nsfd, 0, 0);

	do
		r = RAW3(SYS_read, a->child_sock, &byte, 1);
	while (r == -EINTR);
	for (;;)
		RAW3(SYS_exit, 0, 0, 0);
	__builtin_unreachable();
}
