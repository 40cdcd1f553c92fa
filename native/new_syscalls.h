/* The kernel interfaces the native code uses that are newer than some of
 * bookworm's headers (glibc 2.36, Linux 6.1 uapi), defined here once and
 * only where the headers lack them. glibc's <sys/mount.h> already brings
 * the new mount API's flags and struct mount_attr (it includes
 * <linux/mount.h> itself); <fcntl.h> brings the AT_* flags and
 * <sys/stat.h> the STATX_* ones. From 424 on, syscall
 * numbers are the same on every architecture. */
#pragma once
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_statmount
#define SYS_statmount 457
#endif

/* statx: the 64-bit mount id that is never reused (Linux 6.8). */
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif
