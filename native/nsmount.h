/* Shared declarations for libnsmount. Every exported function returns a
 * non-negative value on success and -errno on failure, never logs, and
 * opens every fd with O_CLOEXEC. */
#pragma once
#include <stdint.h>
#include <errno.h>

#define NSM_EXPORT __attribute__((visibility("default")))
#define NSM_NEG_ERRNO() (-(errno ? errno : EIO))

/* nsm_userns_new flags; keep in sync with src/native/userns.ts. */
#define NSM_USERNS_DENY_SETGROUPS 1u
