/* What native/mount_lock.c and native/lock_staging.c share: the namespaces
 * a lock child works in (the steps it reports are in nsmount.h). Internal
 * to them. */
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
