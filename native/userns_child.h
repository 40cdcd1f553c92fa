/* The short-lived CLONE_VM child through which userns.c makes and inspects
 * user namespaces: its arguments, and the two halves of the conversation
 * (userns_child.c runs in the child, userns_clone.c in the parent).
 *
 * A user namespace is owned by the euid of the task that unshares it, and
 * only a task inside a namespace makes /proc/PID/{uid,gid}_map show it, so
 * both jobs need a second task. A fork-style child copies Node's page
 * tables (~0.9 ms); a CLONE_VM child shares them (~0.25 ms) but then runs
 * on Node's memory, so it:
 *   - runs on its own mmap'ed stack and only issues raw syscalls
 *     (raw_syscall.h):
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
 * the child, and the parent could not see the child die before reporting.)
 * Writing and reading /proc/PID/{uid,gid}_map need no ptrace access: root
 * with CAP_SETUID/CAP_SETGID may write them, anyone may read. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

#define CHILD_STACK_SIZE (64 * 1024)

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

int userns_child_main(void *arg);

/* passed_fd is the fd the child sent (-1 if none); it stays userns_with_child's
 * to close unless the job succeeds and the caller asked for it. */
typedef int (*parent_job_fn)(pid_t pid, int passed_fd, void *ctx, int *step);

/* Starts the child, waits for its report, runs `job` while the child sits
 * in its namespace, then releases and reaps it; *step names the step that
 * failed. The fd the child sent goes to *fd_out when the job succeeds and
 * fd_out is not NULL. */
int userns_with_child(struct child_args *a, parent_job_fn job, void *ctx, int *step, int *fd_out);

