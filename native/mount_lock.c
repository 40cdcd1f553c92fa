/* Locking the flags of a detached mount, so that nobody it is handed to
 * can clear them.
 *
 * A detached mount made in the initial namespaces has no MNT_LOCK_* flags:
 * a process holding its fd in a user and mount namespace of its own can
 * mount_setattr(attr_clr=NOSUID|NODEV|NOEXEC|RDONLY) it. The kernel locks
 * the flags of every mount it copies into a mount namespace owned by a
 * less privileged user namespace, whether by copying the whole namespace
 * or by propagating a new mount into it, and locks the submounts of such a
 * copy to their parent. An open_tree(OPEN_TREE_CLONE) made there keeps
 * those locks.
 *
 * So, once per process, two mount namespaces are made (lock_staging.c): a
 * staging one whose root is a shared tmpfs with one empty directory per
 * child slot, and a lock one, owned by a user namespace with no ids
 * mapped, whose root is a slave of the staging root. Per mount, a CLONE_VM
 * child
 *   1. enters the staging namespace and attaches the mount at its slot's
 *      directory: the kernel propagates a locked copy into the lock one;
 *   2. enters the lock namespace and takes open_tree(OPEN_TREE_CLONE) of
 *      that copy: the locked clone, made private so it receives nothing
 *      from the staging mount it was copied from;
 *   3. answers, then goes back to the staging namespace and unmounts its
 *      directory, which takes the copy in the lock namespace with it.
 * Unmounting waits out an RCU grace period (~0.5 ms here); only the child
 * waits for it, after answering. No namespace is copied per call. The
 * child shares the caller's fd table (CLONE_FILES), so the clone's fd is
 * simply there.
 *
 * Like userns.c's child, it runs on Node's memory: its own stack, raw
 * syscalls only, every signal blocked, no exit signal (reaped with
 * waitpid(__WALL)). */
#include "mount_lock.h"
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/futex.h>

#define LOCK_CHILD_STACK_SIZE (64 * 1024)

/* A child's stack and the word it reports on. */
struct child_slot {
	void *stack;
	int word;
	int index; /* which slot directory the child uses */
	pid_t pid; /* > 0: not reaped yet */
};

/* The child's work order and its answer; the child shares our memory and
 * touches this only until it clears its slot's word. */
struct lock_job {
	bool make_staging;
	int mount_fd, staging_fd, lock_fd;
	bool recursive;
	struct child_slot *slot;
	/* answers: fds land in the shared fd table */
	int step, err;
	int result_fd, result_lock_fd;
};

/* Answers the parent: from here on j may be gone. */
static void answer(struct lock_job *j, long err)
{
	int *word = &j->slot->word;

	j->err = (int)err;
	__atomic_store_n(word, 0, __ATOMIC_RELEASE);
	RAW3(SYS_futex, word, FUTEX_WAKE, 1);
}

static long lock_mount(struct lock_job *j, const char *dir)
{
	struct mount_attr private = { .propagation = MS_PRIVATE };
	long r;

	j->step = LOCK_STEP_ENTER_STAGING;
	if ((r = RAW2(SYS_setns, j->staging_fd, CLONE_NEWNS)) < 0)
		return r;
	j->step = LOCK_STEP_ATTACH;
	if ((r = RAW5(SYS_move_mount, j->mount_fd, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH)) < 0)
		return r;
	j->step = LOCK_STEP_ENTER_LOCK;
	if ((r = RAW2(SYS_setns, j->lock_fd, CLONE_NEWNS)) < 0)
		return r;
	j->step = LOCK_STEP_CLONE;
	r = RAW3(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | O_CLOEXEC | (j->recursive ? AT_RECURSIVE : 0));
	if (r < 0)
		return r;
	j->result_fd = (int)r;
	j->step = LOCK_STEP_PRIVATE;
	return RAW5(SYS_mount_setattr, j->result_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &private, sizeof private);
}

/* Unmounts whatever is attached at dir in the staging namespace, which
 * takes the lock namespace's copies with it; that includes what a child
 * killed before it got here left behind. */
static void unstage(int staging_fd, const char *dir)
{
	if (RAW2(SYS_setns, staging_fd, CLONE_NEWNS) == 0)
		while (RAW2(SYS_umount2, dir, MNT_DETACH) == 0)
			;
}

static int child_main(void *arg)
{
	struct lock_job *j = arg;
	/* What the child still needs once it has answered, when j is gone. */
	struct child_slot *s = j->slot;
	int staging_fd = j->staging_fd;
	char dir[] = "/" LOCK_SLOT_DIR_PREFIX "0";

	if (j->make_staging) {
		answer(j, lock_make_staging(&j->step, &j->result_fd, &j->result_lock_fd));
	} else {
		dir[sizeof dir - 2] = (char)('0' + s->index);
		answer(j, lock_mount(j, dir));
		unstage(staging_fd, dir);
	}
	for (;;)
		RAW1(SYS_exit, 0);
	__builtin_unreachable();
}

/* Children still unmounting keep their slot (their stack and directory)
 * until reaped. Calls come from Node's main thread; the lock only keeps
 * others out. */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct child_slot slots[LOCK_SLOTS];

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
	for (int i = 0; i < LOCK_SLOTS; i++) {
		slots[i].index = i;
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
	for (int i = 0; i < LOCK_SLOTS; i++) {
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
	j->result_fd = j->result_lock_fd = -1;
	pthread_mutex_lock(&slots_lock);
	s = free_slot();
	if (!s->stack) {
		void *stack = mmap(NULL, LOCK_CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED) {
			ret = NSM_NEG_ERRNO();
			pthread_mutex_unlock(&slots_lock);
			return ret;
		}
		s->stack = stack;
	}
	j->slot = s;

	/* Making the lock user namespace changes the child's credentials,
	 * which marks the memory it shares with us non-dumpable; undone below. */
	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* The word holds the child's tid while it works (CLONE_PARENT_SETTID);
	 * the child clears it once it has answered, and the kernel clears it
	 * again when the child dies (CLONE_CHILD_CLEARTID), so a child killed
	 * early wakes us too. */
	pid = clone(child_main, (char *)s->stack + LOCK_CHILD_STACK_SIZE,
		    CLONE_VM | CLONE_FILES | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID, j,
		    &s->word, NULL, &s->word);
	ret = pid < 0 ? NSM_NEG_ERRNO() : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid > 0) {
		s->pid = pid;
		while ((word = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE)) != 0)
			syscall(SYS_futex, &s->word, FUTEX_WAIT, word, NULL);
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
		if (j->result_lock_fd >= 0)
			close(j->result_lock_fd);
		j->result_fd = j->result_lock_fd = -1;
	}
	return ret;
}

/* Makes the staging and lock mount namespaces; returns the staging one's
 * fd and puts the lock one's in *lock_fd. */
NSM_EXPORT int nsm_lock_staging_new(int *lock_fd, int *failed_step)
{
	struct lock_job j = { .make_staging = true };
	int ret = run_child(&j, true);

	*failed_step = j.step;
	if (ret < 0)
		return ret;
	*lock_fd = j.result_lock_fd;
	return j.result_fd;
}

/* Returns a clone of the detached mount tree mount_fd whose flags are
 * locked (with all its submounts if recursive; EINVAL at LOCK_STEP_CLONE
 * without recursive means it has submounts, which stay covered). The
 * mount behind mount_fd is attached in the staging namespace on the way
 * and unmounted there: after this call, successful or not, it is no
 * longer a usable detached mount. */
NSM_EXPORT int nsm_lock_mount(int mount_fd, int staging_fd, int lock_fd, int recursive, int *failed_step)
{
	struct lock_job j = {
		.mount_fd = mount_fd,
		.staging_fd = staging_fd,
		.lock_fd = lock_fd,
		.recursive = recursive != 0,
	};
	int ret = run_child(&j, false);

	*failed_step = j.step;
	return ret < 0 ? ret : j.result_fd;
}
