/* Locking the flags of a detached mount, so that nobody it is handed to
 * can clear them.
 *
 * A detached mount made in the initial namespaces has no MNT_LOCK_* flags:
 * a process holding its fd in a user and mount namespace of its own can
 * mount_setattr(attr_clr=NOSUID|NODEV|NOEXEC|RDONLY) it. The kernel locks
 * flags (and locks submounts to their parents) when it copies a mount
 * namespace into one owned by another user namespace, and an
 * open_tree(OPEN_TREE_CLONE) made inside such a copy keeps those locks.
 *
 * So, once per process, a staging mount namespace holding a single tmpfs
 * (so copying it is cheap) and a lock user namespace owned by root with no
 * ids mapped are made. Per mount, a CLONE_VM child:
 *   1. enters the staging namespace and unshares a private copy of it;
 *   2. attaches the mount there at /m;
 *   3. starts a second child, which enters the lock user namespace and
 *      unshares a copy of the first one's namespace: that copy is owned by
 *      the lock namespace, so the kernel locks every flag in it;
 *   4. that child takes open_tree(OPEN_TREE_CLONE) of /m there: the locked
 *      clone, which it answers with.
 * Both copies die with their child, unmounting everything they held:
 * nothing stays attached anywhere. The children share the caller's fd
 * table (CLONE_FILES), so the clone's fd is simply there.
 *
 * Like userns.c's child, it runs on Node's memory: its own stack, raw
 * syscalls only, every signal blocked, no exit signal (reaped with
 * waitpid(__WALL)). */
#include "nsmount.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "new_syscalls.h"
#include "raw_syscall.h"

#ifndef SYS_pivot_root
#define SYS_pivot_root 155
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_STRING 1
#endif
#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_CMD_CREATE 6
#endif
#define NSM_MOUNT_ATTR_NOSUID 0x00000002
#define NSM_MOUNT_ATTR_NODEV 0x00000004
#define NSM_MOUNT_ATTR_NOEXEC 0x00000008

#ifndef SYS_futex
#define SYS_futex 202
#endif
#define NSM_FUTEX_WAIT 0
#define NSM_FUTEX_WAKE 1

/* Which step failed. Keep in sync with STEP_NAMES in src/native/mount-lock.ts. */
enum nsm_lock_step {
	LOCK_STEP_CHILD = 0,
	LOCK_STEP_STAGING_UNSHARE = 1,
	LOCK_STEP_STAGING_PRIVATE = 2,
	LOCK_STEP_STAGING_TMPFS = 3,
	LOCK_STEP_STAGING_PIVOT = 4,
	LOCK_STEP_LOCK_USERNS = 5,
	LOCK_STEP_ENTER_STAGING = 6,
	LOCK_STEP_ATTACH = 7,
	LOCK_STEP_ENTER_LOCK_USERNS = 8,
	LOCK_STEP_COPY = 9,
	LOCK_STEP_CLONE = 10,
};

/* A child's stack and the word it reports on. The word holds the child's
 * tid while it works (CLONE_PARENT_SETTID); the child sets it to 0 once
 * its answer is written, and the kernel sets it to 0 again when the child
 * dies (CLONE_CHILD_CLEARTID), so a child killed early wakes us too. */
struct child_slot {
	void *stack;
	int word;
	pid_t pid; /* > 0: not reaped yet */
};

/* The child's work order and its answer; the child shares our memory and
 * touches this only until it clears its slot's word. */
struct lock_job {
	bool make_staging;
	int mount_fd, staging_fd, lock_userns_fd;
	bool recursive;
	struct child_slot *slot;
	/* answers: fds land in the shared fd table */
	int step, err;
	int result_fd, result_userns_fd;
};

#define STAGING_DIR "m"
#define CHILD_STACK_SIZE (64 * 1024)

static long open_own_ns(int proc_self_fd, const char *name)
{
	return RAW4(SYS_openat, proc_self_fd, name, O_RDONLY | O_CLOEXEC, 0);
}

/* A mount namespace holding one empty tmpfs with a directory "m", and a
 * user namespace owned by root with nothing mapped. */
static long make_staging(struct lock_job *j)
{
	long r, fsfd, mfd, proc;

	j->step = LOCK_STEP_STAGING_UNSHARE;
	if ((r = RAW1(SYS_unshare, CLONE_NEWNS)) < 0)
		return r;
	/* /proc is gone once we pivot; keep our own task directory. */
	if ((proc = RAW4(SYS_openat, AT_FDCWD, "/proc/thread-self", O_PATH | O_DIRECTORY | O_CLOEXEC, 0)) < 0)
		return proc;
	if ((r = open_own_ns(proc, "ns/mnt")) < 0)
		goto out;
	j->result_fd = (int)r;

	/* Nothing we do here may propagate back to the daemon's namespace. */
	j->step = LOCK_STEP_STAGING_PRIVATE;
	if ((r = RAW5(SYS_mount, 0, "/", 0, MS_REC | MS_PRIVATE, 0)) < 0)
		goto out;

	j->step = LOCK_STEP_STAGING_TMPFS;
	if ((fsfd = RAW2(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC)) < 0) {
		r = fsfd;
		goto out;
	}
	r = RAW5(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "mode", "0700", 0);
	if (r == 0)
		r = RAW5(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "nr_inodes", "4", 0);
	if (r == 0)
		r = RAW5(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, 0, 0, 0);
	mfd = r == 0 ? RAW3(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC,
			    NSM_MOUNT_ATTR_NOSUID | NSM_MOUNT_ATTR_NODEV | NSM_MOUNT_ATTR_NOEXEC)
		     : r;
	RAW1(SYS_close, fsfd);
	if ((r = mfd) < 0)
		goto out;
	r = RAW3(SYS_mkdirat, mfd, STAGING_DIR, 0700);

	/* Make the tmpfs the root and drop everything else, so a copy of
	 * this namespace is one mount. */
	if (r == 0) {
		j->step = LOCK_STEP_STAGING_PIVOT;
		r = RAW5(SYS_move_mount, mfd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH);
	}
	if (r == 0)
		r = RAW1(SYS_fchdir, mfd);
	RAW1(SYS_close, mfd);
	if (r == 0)
		r = RAW2(SYS_pivot_root, ".", ".");
	if (r == 0)
		r = RAW2(SYS_umount2, ".", MNT_DETACH);
	if (r == 0)
		r = RAW1(SYS_chdir, "/");
	if (r < 0)
		goto out;

	j->step = LOCK_STEP_LOCK_USERNS;
	if ((r = RAW1(SYS_unshare, CLONE_NEWUSER)) < 0)
		goto out;
	if ((r = open_own_ns(proc, "ns/user")) < 0)
		goto out;
	j->result_userns_fd = (int)r;
	r = 0;
out:
	RAW1(SYS_close, proc);
	return r;
}

/* Answers the parent: from here on j may be gone. */
static void answer(struct lock_job *j, long err)
{
	int *word = &j->slot->word;

	j->err = (int)err;
	__atomic_store_n(word, 0, __ATOMIC_RELEASE);
	RAW3(SYS_futex, word, NSM_FUTEX_WAKE, 1);
}

/* In the private staging copy with the mount attached: takes the locked
 * clone from a copy owned by the lock user namespace, answers, and
 * leaves, tearing that copy down after answering. */
static int lock_child_main(void *arg)
{
	struct lock_job *j = arg;
	long r;

	j->step = LOCK_STEP_ENTER_LOCK_USERNS;
	r = RAW2(SYS_setns, j->lock_userns_fd, CLONE_NEWUSER);
	if (r == 0) {
		j->step = LOCK_STEP_COPY;
		r = RAW1(SYS_unshare, CLONE_NEWNS);
	}
	if (r == 0) {
		j->step = LOCK_STEP_CLONE;
		r = RAW3(SYS_open_tree, AT_FDCWD, "/" STAGING_DIR,
			 OPEN_TREE_CLONE | O_CLOEXEC | (j->recursive ? AT_RECURSIVE : 0));
		if (r >= 0) {
			j->result_fd = (int)r;
			r = 0;
		}
	}
	answer(j, r);
	for (;;)
		RAW1(SYS_exit, 0);
	__builtin_unreachable();
}

/* Attaches the mount in a private copy of the staging namespace and has a
 * second child lock it from there. Dropping a namespace that holds mounts
 * waits out an RCU grace period (~0.5 ms here): both children answer
 * first and then leave, so only they wait. Returns only on failure. */
static long lock_mount(struct lock_job *j, void *child_stack_top)
{
	long r;
	pid_t pid;

	j->step = LOCK_STEP_ENTER_STAGING;
	if ((r = RAW2(SYS_setns, j->staging_fd, CLONE_NEWNS)) < 0)
		return r;
	if ((r = RAW1(SYS_unshare, CLONE_NEWNS)) < 0)
		return r;
	j->step = LOCK_STEP_ATTACH;
	if ((r = RAW5(SYS_move_mount, j->mount_fd, "", AT_FDCWD, "/" STAGING_DIR, MOVE_MOUNT_F_EMPTY_PATH)) < 0)
		return r;
	/* Our namespace, with the mount in it, stays while the child copies
	 * it. glibc's clone() is a bare syscall wrapper (it writes errno only
	 * on failure); the child answers the parent itself. */
	j->step = LOCK_STEP_CHILD;
	pid = clone(lock_child_main, child_stack_top, CLONE_VM | CLONE_FILES, j);
	if (pid < 0)
		return -EAGAIN;
	while (RAW4(SYS_wait4, pid, 0, __WALL, 0) == -EINTR)
		;
	return 0;
}

static int child_main(void *arg)
{
	struct lock_job *j = arg;
	long r;

	if (j->make_staging) {
		answer(j, make_staging(j));
	} else if ((r = lock_mount(j, (char *)j->slot->stack + CHILD_STACK_SIZE / 2)) < 0) {
		answer(j, r);
	}
	/* A lock child that died without answering: our exit clears the
	 * word (CLONE_CHILD_CLEARTID) and the parent finds -ECHILD. */
	for (;;)
		RAW1(SYS_exit, 0);
	__builtin_unreachable();
}

/* Children still tearing down their namespaces keep their slot (their
 * stack) until reaped. Calls come from Node's main thread; the lock only
 * keeps others out. */
#define SLOTS 8
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct child_slot slots[SLOTS];

static void reap(struct child_slot *s, bool block)
{
	pid_t r;

	if (s->pid <= 0)
		return;
	do
		r = waitpid(s->pid, NULL, __WALL | (block ? 0 : WNOHANG));
	while (r < 0 && errno == EINTR);
	if (r != 0)
		s->pid = 0; /* reaped (or not ours to wait for any more) */
}

/* A slot with no child, reaping finished ones; waits for the oldest if all are busy. */
static struct child_slot *free_slot(void)
{
	for (int i = 0; i < SLOTS; i++) {
		reap(&slots[i], false);
		if (slots[i].pid <= 0)
			return &slots[i];
	}
	reap(&slots[0], true);
	return &slots[0];
}

/* Reaps every child that has finished; the TypeScript side calls it
 * shortly after the last lock, so no zombie waits for the next call. */
NSM_EXPORT int nsm_lock_reap(void)
{
	int busy = 0;

	pthread_mutex_lock(&slots_lock);
	for (int i = 0; i < SLOTS; i++) {
		reap(&slots[i], false);
		busy += slots[i].pid > 0;
	}
	pthread_mutex_unlock(&slots_lock);
	return busy;
}

static int run_child(struct lock_job *j, bool wait_exit)
{
	struct child_slot *s;
	sigset_t all, old;
	pid_t pid;
	int dumpable, ret, word;

	j->step = LOCK_STEP_CHILD;
	j->err = -ECHILD; /* unless the child says otherwise */
	j->result_fd = j->result_userns_fd = -1;
	pthread_mutex_lock(&slots_lock);
	s = free_slot();
	if (!s->stack) {
		void *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED) {
			ret = NSM_NEG_ERRNO();
			pthread_mutex_unlock(&slots_lock);
			return ret;
		}
		s->stack = stack;
	}
	j->slot = s;

	/* Entering a user namespace changes the child's credentials, which
	 * marks the memory it shares with us non-dumpable; undone below. */
	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(child_main, (char *)s->stack + CHILD_STACK_SIZE,
		    CLONE_VM | CLONE_FILES | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID, j,
		    &s->word, NULL, &s->word);
	ret = pid < 0 ? NSM_NEG_ERRNO() : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid > 0) {
		s->pid = pid;
		while ((word = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE)) != 0)
			syscall(SYS_futex, &s->word, NSM_FUTEX_WAIT, word, NULL);
		ret = j->err;
		if (wait_exit)
			reap(s, true);
	}
	pthread_mutex_unlock(&slots_lock);
	if (dumpable == 1 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (ret < 0) {
		if (j->result_fd >= 0)
			close(j->result_fd);
		if (j->result_userns_fd >= 0)
			close(j->result_userns_fd);
		j->result_fd = j->result_userns_fd = -1;
	}
	return ret;
}

/* Makes the staging mount namespace and the lock user namespace; returns
 * the staging namespace's fd and puts the lock namespace's in *userns_fd. */
NSM_EXPORT int nsm_lock_staging_new(int *userns_fd, int *failed_step)
{
	struct lock_job j = { .make_staging = true };
	int ret = run_child(&j, true);

	*failed_step = j.step;
	if (ret < 0)
		return ret;
	*userns_fd = j.result_userns_fd;
	return j.result_fd;
}

/* Returns a clone of the detached mount tree mount_fd whose flags are
 * locked (with all its submounts if recursive; EINVAL at LOCK_STEP_CLONE
 * without recursive means it has submounts, which stay covered). The
 * mount behind mount_fd is attached in a throwaway namespace on the way
 * and unmounted with it: after this call, successful or not, it is no
 * longer a usable detached mount. */
NSM_EXPORT int nsm_lock_mount(int mount_fd, int staging_fd, int lock_userns_fd, int recursive,
			      int *failed_step)
{
	struct lock_job j = {
		.mount_fd = mount_fd,
		.staging_fd = staging_fd,
		.lock_userns_fd = lock_userns_fd,
		.recursive = recursive != 0,
	};
	int ret = run_child(&j, false);

	*failed_step = j.step;
	return ret < 0 ? ret : j.result_fd;
}
