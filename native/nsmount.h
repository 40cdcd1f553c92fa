/* libnsmount's interface, declared once: every exported function, and the
 * flags and step numbers that cross into TypeScript.
 *
 * src/native/bindings.ts declares the same functions for koffi, and
 * test/native/seam.test.ts checks that the library's exports, these
 * prototypes and those declarations agree. So the prototypes use only types
 * koffi parses (no bare "unsigned"; byte buffers are uint8_t or void
 * pointers), and NSM_OUT marks what koffi calls _Out_: a pointer the
 * function writes an answer through.
 *
 * Every function returns a non-negative value on success and -errno on
 * failure, never logs, and opens every fd with O_CLOEXEC. The library is
 * built with hidden visibility: a function is exported only if it is
 * declared here. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <errno.h>

#define NSM_EXPORT __attribute__((visibility("default")))
#define NSM_NEG_ERRNO() (-(errno ? errno : EIO))
#define NSM_OUT

/* Steps are declared as X-macro lists, X(ENUMERATOR, "words"), so the enum
 * and the words TypeScript shows for a failed step come from one place. */
#define NSM_STEP_ENUMERATOR(id, words) id,

/* fd.c: file descriptors. */
NSM_EXPORT int nsm_set_cloexec(int fd);
NSM_EXPORT int nsm_close(int fd);
NSM_EXPORT int nsm_fd_status_flags(int fd);
NSM_EXPORT int nsm_flock(int fd, int operation);
NSM_EXPORT int nsm_dup_cloexec(int fd);

/* dirfd.c: fd-relative file operations; names are single components. */
NSM_EXPORT int nsm_mkdirat(int dirfd, const char *name, uint32_t mode);
NSM_EXPORT int nsm_fchown_fd(int fd, uint32_t uid, uint32_t gid);
NSM_EXPORT int nsm_fchmod(int fd, uint32_t mode);
NSM_EXPORT int nsm_rename_noreplace(int olddirfd, const char *oldname, int newdirfd, const char *newname);
NSM_EXPORT int nsm_openat(int dirfd, const char *name, int flags, uint32_t mode);
NSM_EXPORT int nsm_unlinkat(int dirfd, const char *name, int flags);
NSM_EXPORT int nsm_dir_is_empty(int fd);

/* resolve.c: path resolution that follows no symlink. */
NSM_EXPORT int nsm_open_path_no_symlinks(const char *path, int cached_only);

/* passwd.c, nss.c: the user and group databases. */
NSM_EXPORT int64_t nsm_primary_gid(uint32_t uid);
NSM_EXPORT int nsm_nss_uids(uint32_t *out, int max);
NSM_EXPORT int nsm_nss_gids(uint32_t *out, int max);
NSM_EXPORT int nsm_nss_uid_known(uint32_t id);
NSM_EXPORT int nsm_nss_gid_known(uint32_t id);

/* nsfs.c: namespace fds and their file handles. */
NSM_EXPORT int nsm_ns_is_nsfs(int fd);
NSM_EXPORT int nsm_ns_type(int fd);
NSM_EXPORT int nsm_ns_owner_uid(int fd, NSM_OUT uint32_t *uid);
NSM_EXPORT int nsm_ns_id(int fd, NSM_OUT uint64_t *id);
NSM_EXPORT int nsm_ns_handle(int fd, NSM_OUT int *type, uint8_t *out, int size);
NSM_EXPORT int nsm_ns_open_handle(int type, const uint8_t *bytes, int len);
NSM_EXPORT int nsm_ns_handle_alive(int type, const uint8_t *bytes, int len);

/* userns.c: user namespaces. */
#define NSM_USERNS_DENY_SETGROUPS 1
#define NSM_USERNS_STEPS(X)                                              \
	X(NSM_USERNS_STEP_SETUP, "create user namespace child")          \
	X(NSM_USERNS_STEP_SETGROUPS, "setgroups")                        \
	X(NSM_USERNS_STEP_SETRESGID, "setresgid")                        \
	X(NSM_USERNS_STEP_SETRESUID, "setresuid")                        \
	X(NSM_USERNS_STEP_UNSHARE, "unshare(CLONE_NEWUSER)")             \
	X(NSM_USERNS_STEP_SETNS, "setns(CLONE_NEWUSER)")                 \
	X(NSM_USERNS_STEP_WRITE_UID_MAP, "write uid_map")                \
	X(NSM_USERNS_STEP_WRITE_GID_MAP, "write gid_map")                \
	X(NSM_USERNS_STEP_OPEN_NS, "open /proc/thread-self/ns/user")     \
	X(NSM_USERNS_STEP_READ_UID_MAP, "read uid_map")                  \
	X(NSM_USERNS_STEP_READ_GID_MAP, "read gid_map")                  \
	X(NSM_USERNS_STEP_WRITE_SETGROUPS, "write setgroups")
enum nsm_userns_step { NSM_USERNS_STEPS(NSM_STEP_ENUMERATOR) };
NSM_EXPORT int nsm_userns_new(uint32_t owner_uid, uint32_t owner_gid, const char *uid_map, const char *gid_map,
			      uint32_t flags, NSM_OUT int *failed_step);
NSM_EXPORT int nsm_userns_read_maps(int userns_fd, uint8_t *uid_buf, size_t uid_size, uint8_t *gid_buf,
				    size_t gid_size, NSM_OUT int *failed_step);
/* The words for a step of enum nsm_userns_step; NULL past the last. */
NSM_EXPORT const char *nsm_userns_step_name(int step);

/* mount_api.c: the new mount API on existing mounts, and mount ids. */
NSM_EXPORT int nsm_open_tree_clone(int dirfd, int recursive);
NSM_EXPORT int nsm_mount_setattr(int mount_fd, uint64_t attr_set, int userns_fd, int recursive);
NSM_EXPORT int nsm_move_mount_to(int mount_fd, int target_fd);
NSM_EXPORT int nsm_mount_ids(int fd, NSM_OUT uint64_t *unique, NSM_OUT uint64_t *legacy);
NSM_EXPORT int nsm_is_mount_root(int fd);
NSM_EXPORT int nsm_stat_fd_cached(int fd, uint64_t *out);
NSM_EXPORT int nsm_umount_detach_fd(int fd);

/* statmount.c */
NSM_EXPORT int nsm_statmount_point(uint64_t mnt_id, NSM_OUT uint8_t *path, uint32_t path_size);
NSM_EXPORT int nsm_statmount_sb(uint64_t mnt_id, uint64_t *out);

/* fsmount.c: new file system mounts. Callers tell "the kernel lacks this
 * file system" (open) from "an option was refused" (option) from "the
 * superblock is not usable" (create) by the step. */
#define NSM_FS_MOUNT_STEPS(X)                      \
	X(NSM_FS_MOUNT_STEP_OPEN, "open")          \
	X(NSM_FS_MOUNT_STEP_SOURCE, "source")      \
	X(NSM_FS_MOUNT_STEP_OPTION, "option")      \
	X(NSM_FS_MOUNT_STEP_CREATE, "create")      \
	X(NSM_FS_MOUNT_STEP_MOUNT, "mount")        \
	X(NSM_FS_MOUNT_STEP_LOOP, "loop")
enum nsm_fs_mount_step { NSM_FS_MOUNT_STEPS(NSM_STEP_ENUMERATOR) };
NSM_EXPORT int nsm_fs_mount(const char *fstype, const char *source, const char *options, uint32_t attr_flags,
			    NSM_OUT int *failed_step, void *log, size_t log_size);
/* The name of a step of enum nsm_fs_mount_step; NULL past the last. */
NSM_EXPORT const char *nsm_fs_mount_step_name(int step);

/* loop.c: loop devices. */
#define NSM_LOOP_READ_ONLY 1
#define NSM_LOOP_DIRECT_IO 2
NSM_EXPORT int nsm_loop_attach(int backing_fd, uint64_t offset, uint64_t sizelimit, uint32_t flags,
			       NSM_OUT int *out_index);
/* nsm_loop_attach, then nsm_fs_mount of that device, in one call (one trip
 * to libuv's pool); the loop fd is closed before it returns. A failed
 * attach is NSM_FS_MOUNT_STEP_LOOP. */
NSM_EXPORT int nsm_loop_fs_mount(int backing_fd, uint64_t offset, uint64_t sizelimit, uint32_t loop_flags,
				 const char *fstype, const char *options, uint32_t attr_flags,
				 NSM_OUT int *failed_step, void *log, size_t log_size);

/* probe.c: libblkid's reads of an image, one call per probe. */
NSM_EXPORT int nsm_blkid_probe(void *probe, int fd, int64_t offset, int64_t size, int reopen, NSM_OUT int *private_fd);

/* mount_lock.c, lock_staging.c: locked clones of detached mounts. */
#define NSM_LOCK_STEPS(X)                                                              \
	X(LOCK_STEP_CHILD, "start mount lock child")                                   \
	X(LOCK_STEP_STAGING_UNSHARE, "unshare the staging mount namespace")            \
	X(LOCK_STEP_STAGING_PRIVATE, "make the staging namespace private")             \
	X(LOCK_STEP_STAGING_TMPFS, "make the staging tmpfs")                           \
	X(LOCK_STEP_STAGING_PIVOT, "pivot into the staging tmpfs")                     \
	X(LOCK_STEP_STAGING_SHARED, "share the staging root")                          \
	X(LOCK_STEP_LOCK_USERNS, "make the lock user namespace")                       \
	X(LOCK_STEP_LOCK_COPY, "make the lock mount namespace")                        \
	X(LOCK_STEP_ENTER_STAGING, "enter the staging mount namespace")                \
	X(LOCK_STEP_ATTACH, "attach the mount for locking")                            \
	X(LOCK_STEP_ENTER_LOCK, "enter the lock mount namespace")                      \
	X(LOCK_STEP_CLONE, "open_tree(OPEN_TREE_CLONE) of the locked copy")            \
	X(LOCK_STEP_PRIVATE, "make the locked clone private")
enum nsm_lock_step { NSM_LOCK_STEPS(NSM_STEP_ENUMERATOR) };
NSM_EXPORT int nsm_lock_staging_new(NSM_OUT int *lock_fd, NSM_OUT int *failed_step);
NSM_EXPORT int nsm_lock_mount(int mount_fd, int staging_fd, int lock_fd, int recursive, NSM_OUT int *failed_step);
NSM_EXPORT int nsm_lock_reap(void);
/* The words for a step of enum nsm_lock_step; NULL past the last. */
NSM_EXPORT const char *nsm_lock_step_name(int step);

/* heap.c: the C heap. */
NSM_EXPORT int nsm_malloc_trim(void);
