// The only module that loads native code. native/nsmount.h declares every
// function of libnsmount; each is bound here once, with the TypeScript type
// of its call, and the other modules of src/native/ wrap these bindings.
// test/native/seam.test.ts checks these prototypes against the header and
// against what the built library exports.
import koffi from 'koffi';
import path from 'node:path';
import fs from 'node:fs';

function findLibrary(): string {
  // dist/src/native/bindings.js -> <package root>/build/libnsmount.so
  const candidates = [
    path.resolve(__dirname, '../../../build/libnsmount.so'),
    path.resolve(__dirname, '../../build/libnsmount.so'),
  ];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`libnsmount.so not found (looked in ${candidates.join(', ')}); run "npm run build:native"`);
}

const libnsmount = koffi.load(findLibrary());
const prototypes = new Map<string, string>();

/** koffi writes an _Out_ answer into the first element. */
type Out<T> = [T];
type Id = number | bigint;

function bind<F>(prototype: string): F {
  const name = /(\w+)\s*\(/.exec(prototype)?.[1];
  if (!name || prototypes.has(name)) throw new Error(`bad or repeated native prototype: ${prototype}`);
  prototypes.set(name, prototype);
  return libnsmount.func(prototype) as F;
}

/** Every prototype bound above, by function name. */
export function boundPrototypes(): ReadonlyMap<string, string> {
  return prototypes;
}

// heap.c
export const nsm_malloc_trim = bind<() => number>('int nsm_malloc_trim(void)');

// fd.c
export const nsm_set_cloexec = bind<(fd: number) => number>('int nsm_set_cloexec(int fd)');
export const nsm_close = bind<(fd: number) => number>('int nsm_close(int fd)');
export const nsm_fd_status_flags = bind<(fd: number) => number>('int nsm_fd_status_flags(int fd)');
export const nsm_flock = bind<(fd: number, operation: number) => number>('int nsm_flock(int fd, int operation)');
export const nsm_dup_cloexec = bind<(fd: number) => number>('int nsm_dup_cloexec(int fd)');

// dirfd.c
export const nsm_mkdirat = bind<(dirfd: number, name: string, mode: number) => number>(
  'int nsm_mkdirat(int dirfd, const char *name, uint32_t mode)',
);
export const nsm_fchown_fd = bind<(fd: number, uid: number, gid: number) => number>(
  'int nsm_fchown_fd(int fd, uint32_t uid, uint32_t gid)',
);
export const nsm_fchmod = bind<(fd: number, mode: number) => number>('int nsm_fchmod(int fd, uint32_t mode)');
export const nsm_rename_noreplace = bind<(olddirfd: number, oldName: string, newdirfd: number, newName: string) => number>(
  'int nsm_rename_noreplace(int olddirfd, const char *oldname, int newdirfd, const char *newname)',
);
export const nsm_openat = bind<(dirfd: number, name: string, flags: number, mode: number) => number>(
  'int nsm_openat(int dirfd, const char *name, int flags, uint32_t mode)',
);
export const nsm_unlinkat = bind<(dirfd: number, name: string, flags: number) => number>(
  'int nsm_unlinkat(int dirfd, const char *name, int flags)',
);
export const nsm_dir_is_empty = bind<(fd: number) => number>('int nsm_dir_is_empty(int fd)');

// resolve.c
export const nsm_open_path_no_symlinks = bind<(path: string, cachedOnly: number) => number>(
  'int nsm_open_path_no_symlinks(const char *path, int cached_only)',
);

// passwd.c, nss.c
export const nsm_primary_gid = bind<(uid: number) => Id>('int64_t nsm_primary_gid(uint32_t uid)');
export const nsm_nss_uids = bind<(out: Uint32Array, max: number) => number>('int nsm_nss_uids(uint32_t *out, int max)');
export const nsm_nss_gids = bind<(out: Uint32Array, max: number) => number>('int nsm_nss_gids(uint32_t *out, int max)');
export const nsm_nss_uid_known = bind<(id: number) => number>('int nsm_nss_uid_known(uint32_t id)');
export const nsm_nss_gid_known = bind<(id: number) => number>('int nsm_nss_gid_known(uint32_t id)');

// nsfs.c
export const nsm_ns_is_nsfs = bind<(fd: number) => number>('int nsm_ns_is_nsfs(int fd)');
export const nsm_ns_type = bind<(fd: number) => number>('int nsm_ns_type(int fd)');
export const nsm_ns_owner_uid = bind<(fd: number, uid: Out<number>) => number>(
  'int nsm_ns_owner_uid(int fd, _Out_ uint32_t *uid)',
);
export const nsm_ns_id = bind<(fd: number, id: Out<Id>) => number>('int nsm_ns_id(int fd, _Out_ uint64_t *id)');
export const nsm_ns_handle = bind<(fd: number, type: Out<number>, out: Buffer, size: number) => number>(
  'int nsm_ns_handle(int fd, _Out_ int *type, uint8_t *out, int size)',
);
export const nsm_ns_open_handle = bind<(type: number, bytes: Buffer, len: number) => number>(
  'int nsm_ns_open_handle(int type, const uint8_t *bytes, int len)',
);
export const nsm_ns_handle_alive = bind<(type: number, bytes: Buffer, len: number) => number>(
  'int nsm_ns_handle_alive(int type, const uint8_t *bytes, int len)',
);

// userns.c
export const NSM_USERNS_DENY_SETGROUPS = 1;
export const nsm_userns_new = bind<
  (ownerUid: number, ownerGid: number, uidMap: string, gidMap: string, flags: number, failedStep: Out<number>) => number
>(
  'int nsm_userns_new(uint32_t owner_uid, uint32_t owner_gid, const char *uid_map, const char *gid_map, uint32_t flags, _Out_ int *failed_step)',
);
export const nsm_userns_read_maps = bind<
  (fd: number, uidBuf: Buffer, uidSize: number, gidBuf: Buffer, gidSize: number, failedStep: Out<number>) => number
>(
  'int nsm_userns_read_maps(int userns_fd, uint8_t *uid_buf, size_t uid_size, uint8_t *gid_buf, size_t gid_size, _Out_ int *failed_step)',
);
export const nsm_userns_step_name = bind<(step: number) => string | null>('const char *nsm_userns_step_name(int step)');

// mount_api.c
export const nsm_open_tree_clone = bind<(dirfd: number, recursive: number) => number>(
  'int nsm_open_tree_clone(int dirfd, int recursive)',
);
export const nsm_mount_setattr = bind<(mountFd: number, attrSet: number, usernsFd: number, recursive: number) => number>(
  'int nsm_mount_setattr(int mount_fd, uint64_t attr_set, int userns_fd, int recursive)',
);
export const nsm_move_mount_to = bind<(mountFd: number, targetFd: number) => number>(
  'int nsm_move_mount_to(int mount_fd, int target_fd)',
);
export const nsm_mount_ids = bind<(fd: number, unique: Out<Id>, legacy: Out<Id>) => number>(
  'int nsm_mount_ids(int fd, _Out_ uint64_t *unique, _Out_ uint64_t *legacy)',
);
export const nsm_is_mount_root = bind<(fd: number) => number>('int nsm_is_mount_root(int fd)');
export const nsm_stat_fd_cached = bind<(fd: number, out: BigUint64Array) => number>('int nsm_stat_fd_cached(int fd, uint64_t *out)');
export const nsm_umount_detach_fd = bind<(fd: number) => number>('int nsm_umount_detach_fd(int fd)');

// statmount.c
export const nsm_statmount_point = bind<(mountId: bigint, path: Buffer, pathSize: number) => number>(
  'int nsm_statmount_point(uint64_t mnt_id, _Out_ uint8_t *path, uint32_t path_size)',
);
export const nsm_statmount_sb = bind<(mountId: bigint, out: BigUint64Array) => number>('int nsm_statmount_sb(uint64_t mnt_id, uint64_t *out)');

// fsmount.c
export const nsm_fs_mount = bind<
  (
    fstype: string,
    source: string | null,
    options: string,
    attrFlags: number,
    failedStep: Out<number>,
    log: Buffer,
    logSize: number,
  ) => number
>(
  'int nsm_fs_mount(const char *fstype, const char *source, const char *options, uint32_t attr_flags, _Out_ int *failed_step, void *log, size_t log_size)',
);
export const nsm_fs_mount_step_name = bind<(step: number) => string | null>('const char *nsm_fs_mount_step_name(int step)');

// loop.c
export const NSM_LOOP_READ_ONLY = 1;
export const NSM_LOOP_DIRECT_IO = 2;
export const nsm_loop_attach = bind<
  (backingFd: number, offset: bigint, sizeLimit: bigint, flags: number, index: Out<number>) => number
>('int nsm_loop_attach(int backing_fd, uint64_t offset, uint64_t sizelimit, uint32_t flags, _Out_ int *out_index)');
export const nsm_loop_fs_mount = bind<
  (
    backingFd: number,
    offset: bigint,
    sizeLimit: bigint,
    loopFlags: number,
    fstype: string,
    options: string,
    attrFlags: number,
    failedStep: Out<number>,
    log: Buffer,
    logSize: number,
  ) => number
>(
  'int nsm_loop_fs_mount(int backing_fd, uint64_t offset, uint64_t sizelimit, uint32_t loop_flags, const char *fstype, const char *options, uint32_t attr_flags, _Out_ int *failed_step, void *log, size_t log_size)',
);

// probe.c
export const nsm_blkid_probe = bind<
  (probe: unknown, fd: number, offset: bigint, size: bigint, reopen: number, privateFd: Out<number>) => number
>('int nsm_blkid_probe(void *probe, int fd, int64_t offset, int64_t size, int reopen, _Out_ int *private_fd)');

// mount_lock.c
export const nsm_lock_staging_new = bind<(lockFd: Out<number>, failedStep: Out<number>) => number>(
  'int nsm_lock_staging_new(_Out_ int *lock_fd, _Out_ int *failed_step)',
);
export const nsm_lock_mount = bind<
  (mountFd: number, stagingFd: number, lockFd: number, recursive: number, failedStep: Out<number>) => number
>('int nsm_lock_mount(int mount_fd, int staging_fd, int lock_fd, int recursive, _Out_ int *failed_step)');
export const nsm_lock_reap = bind<() => number>('int nsm_lock_reap(void)');
export const nsm_lock_step_name = bind<(step: number) => string | null>('const char *nsm_lock_step_name(int step)');

type KoffiLibrary = ReturnType<typeof koffi.load>;

let blkid: KoffiLibrary | undefined;
/** libblkid is loaded lazily: only image probing needs it. */
export function libblkid(): KoffiLibrary {
  blkid ??= koffi.load('libblkid.so.1');
  return blkid;
}

export { koffi };
