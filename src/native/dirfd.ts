// fd-relative file operations on directories the daemon already holds.
// Names are single components; nothing here follows a symlink.
import fs from 'node:fs';
import { nsm_mkdirat, nsm_fchown_fd, nsm_fchmod, nsm_rename_noreplace, nsm_openat, nsm_unlinkat, nsm_dir_is_empty } from './bindings';
import { check } from './check';
import { asyncCall } from './off-thread';
import { nativeStep, type NativeStep } from './syscall-steps';
import { O_PATH, AT_FDCWD } from './flags';
import { statFdCached, type CachedStat } from './stat';

export const O_RDONLY = fs.constants.O_RDONLY;
export const O_DIRECTORY = fs.constants.O_DIRECTORY;
export { O_PATH, AT_FDCWD };
const AT_REMOVEDIR = 0x200;

export function mkdirAt(dirfd: number, name: string, mode: number): void {
  check(nsm_mkdirat(dirfd, name, mode), 'mkdirat');
}

/** chown of the object `fd` refers to; works on O_PATH fds too. */
export function fchown(fd: number, uid: number, gid: number): void {
  check(nsm_fchown_fd(fd, uid, gid), 'fchownat');
}

/** Needs an fd opened for reading or writing, not O_PATH. */
export function fchmod(fd: number, mode: number): void {
  check(nsm_fchmod(fd, mode), 'fchmod');
}

/** renameat2(RENAME_NOREPLACE): fails with EEXIST instead of replacing. */
export function renameNoReplace(olddirfd: number, oldName: string, newdirfd: number, newName: string): void {
  check(nsm_rename_noreplace(olddirfd, oldName, newdirfd, newName), 'renameat2');
}

/** openat with O_NOFOLLOW|O_CLOEXEC always added. */
export function openAt(dirfd: number, name: string, flags: number, mode = 0): number {
  return check(nsm_openat(dirfd, name, flags, mode), 'openat');
}

export function unlinkAt(dirfd: number, name: string, options: { dir: boolean }): void {
  check(nsm_unlinkat(dirfd, name, options.dir ? AT_REMOVEDIR : 0), options.dir ? 'unlinkat(AT_REMOVEDIR)' : 'unlinkat');
}

/** O_PATH fd of the parent directory. At a mount root this is the parent mount's directory, or itself at "/". */
export function openParent(fd: number): number {
  return openAt(fd, '..', O_PATH | O_DIRECTORY);
}

/** fstat of any fd, O_PATH included, never waiting for a FUSE or NFS server (see stat.ts). */
export function fstatFd(fd: number): CachedStat {
  return statFdCached(fd);
}

/** True if the directory holds no entry but "." and ".."; `fd` may be O_PATH. */
export function isDirectoryEmpty(fd: number): boolean {
  return check(nsm_dir_is_empty(fd), 'getdents64') === 1;
}

/** isDirectoryEmpty on libuv's pool: reading the directory may wait for a FUSE or NFS server. */
export async function isDirectoryEmptyOffThread(fd: number): Promise<boolean> {
  return check(await asyncCall<number>(nsm_dir_is_empty, fd), 'getdents64') === 1;
}

/** The same operations as steps of a sequence that may run off Node's thread (syscall-steps.ts). */
export const dirfdSteps = {
  mkdirAt: (dirfd: number, name: string, mode: number): NativeStep => nativeStep(nsm_mkdirat, 'mkdirat', dirfd, name, mode),
  /** openat with O_NOFOLLOW|O_CLOEXEC always added; yields the fd. */
  openAt: (dirfd: number, name: string, flags: number, mode = 0): NativeStep => nativeStep(nsm_openat, 'openat', dirfd, name, flags, mode),
  fchown: (fd: number, uid: number, gid: number): NativeStep => nativeStep(nsm_fchown_fd, 'fchownat', fd, uid, gid),
  fchmod: (fd: number, mode: number): NativeStep => nativeStep(nsm_fchmod, 'fchmod', fd, mode),
  renameNoReplace: (olddirfd: number, oldName: string, newdirfd: number, newName: string): NativeStep =>
    nativeStep(nsm_rename_noreplace, 'renameat2', olddirfd, oldName, newdirfd, newName),
  unlinkAt: (dirfd: number, name: string, options: { dir: boolean }): NativeStep =>
    nativeStep(nsm_unlinkat, options.dir ? 'unlinkat(AT_REMOVEDIR)' : 'unlinkat', dirfd, name, options.dir ? AT_REMOVEDIR : 0),
  /** Yields 1 if the directory holds no entry but "." and "..", 0 otherwise. */
  isDirectoryEmpty: (fd: number): NativeStep => nativeStep(nsm_dir_is_empty, 'getdents64', fd),
};
