/* What native/mount_lock.c and native/lock_staging.c share: the steps a
 * lock child reports and the namespaces it works in. Internal to them. */
#pragma once
#include "nsmount.h"
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include "new_syscalls.h"
#include "raw_syscall.h"

/* Which step failed. Keep in sync with STEP_NAMES in src/native/mount-lock.ts. */
enum nsm_lock_step {
	LOCK_STEP_CHILD = 0,
	LOCK_STEP_STAGING_UNSHARE = 1,
	LOCK_STEP_STAGING_PRIVATE = 2,
	LOCK_STEP_STAGING_TMPFS = 3,
	LOCK_STEP_STAGING_PIVOT = 4,
	LOCK_STEP_STAGING_SHARED = 5,
	LOCK_STEP_LOCK_USERNS = 6,
	LOCK_STEP_LOCK_COPY = 7,
	LOCK_STEP_ENTER_STAGING = 8,
	LOCK_STEP_ATTACH = 9,
	LOCK_STEP_ENTER_LOCK = 10,
	LOCK_STEP_CLONE = 11,
	LOCK_STEP_PRIVATE = 12,
};

/* Lock children that may run at once, each with a directory of its own in
 * the staging namespace: LOCK_SLOT_DIR_PREFIX followed by one digit. */
#define LOCK_SLOTS 8
#define LOCK_SLOT_DIR_PREFIX "m"

/* In a child of its own (it changes namespaces and credentials): makes
 * the staging mount namespace, whose root is a shared tmpfs holding the
 * slot directories, and the lock mount namespace, owned by a user
 * namespace with no ids mapped, whose root is a slave of the staging
 * root. Puts their fds in *staging_fd and *lock_fd. */
long lock_make_staging(int *step, int *staging_fd, int *lock_fd);
