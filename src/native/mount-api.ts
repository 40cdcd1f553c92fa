// The new mount API: clone a directory's mount into a detached mount fd,
// change its attributes, attach it, and identify mounts by id.
import { nsm_open_tree_clone, nsm_mount_setattr, nsm_move_mount_to, nsm_mount_ids, nsm_is_mount_root, nsm_umount_detach_fd } from './bindings';
import { check } from './check';
import { MOUNT_ATTR_IDMAP, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY } from './mount-attr';


export interface CloneOptions {
  /** Include submounts (AT_RECURSIVE); otherwise only the mount the fd is on. */
  recursive: boolean;
}

/** A detached copy of the mount tree at `dirfd` (open_tree(OPEN_TREE_CLONE)); returns its O_PATH fd. */
export function openTreeClone(dirfd: number, options: CloneOptions): number {
  return check(nsm_open_tree_clone(dirfd, options.recursive ? 1 : 0), 'open_tree');
}

export interface MountAttributes {
  /** Only allowed on a detached mount that is not idmapped yet. */
  idmapUserNamespaceFd?: number;
  readOnly?: boolean;
  nosuid?: boolean;
  nodev?: boolean;
  noexec?: boolean;
  /** Apply to every mount of the tree (needed for submounts of a recursive clone). */
  recursive?: boolean;
}

/**
 * Sets attributes on a mount fd. Attributes are only ever added: a clone
 * inherits the restrictions of the mount it was cloned from (a read-only
 * bind mount, nosuid) and must not lose them, so `false` means "leave as is".
 */
export function setMountAttributes(mountFd: number, attributes: MountAttributes): void {
  let set = 0;
  if (attributes.readOnly) set |= MOUNT_ATTR_RDONLY;
  if (attributes.nosuid) set |= MOUNT_ATTR_NOSUID;
  if (attributes.nodev) set |= MOUNT_ATTR_NODEV;
  if (attributes.noexec) set |= MOUNT_ATTR_NOEXEC;
  const userns = attributes.idmapUserNamespaceFd;
  if (userns !== undefined) set |= MOUNT_ATTR_IDMAP;
  if (set === 0) return;
  check(nsm_mount_setattr(mountFd, set, userns ?? -1, attributes.recursive ? 1 : 0), 'mount_setattr');
}

/** Attaches a detached mount on top of the directory `targetDirFd` refers to. */
export function moveMountTo(mountFd: number, targetDirFd: number): void {
  check(nsm_move_mount_to(mountFd, targetDirFd), 'move_mount');
}

export interface MountIds {
  /** 64-bit id that is never reused while the system runs (STATX_MNT_ID_UNIQUE); 0n if the kernel lacks it. */
  unique: bigint;
  /** The reusable 32-bit id shown in /proc/PID/mountinfo (STATX_MNT_ID). */
  legacy: number;
}

export function mountIdsOf(fd: number): MountIds {
  const unique: [number | bigint] = [0];
  const legacy: [number | bigint] = [0];
  check(nsm_mount_ids(fd, unique, legacy), 'statx(STATX_MNT_ID)');
  return { unique: BigInt(unique[0]), legacy: Number(legacy[0]) };
}

/** The id that identifies the mount `fd` is on: the unique id, or the legacy one on kernels before 6.8. */
export function mountIdOf(fd: number): bigint {
  const ids = mountIdsOf(fd);
  return ids.unique !== 0n ? ids.unique : BigInt(ids.legacy);
}

export function isMountRoot(fd: number): boolean {
  return check(nsm_is_mount_root(fd), 'statx(STATX_ATTR_MOUNT_ROOT)') === 1;
}

/**
 * Lazily unmounts (MNT_DETACH) the mount `fd` is on, via its /proc/self/fd
 * link, so the mount affected is the one the fd holds and not whatever a
 * path resolves to now. `fd` must be the root of that mount.
 */
export function detachMountOfFd(fd: number): void {
  check(nsm_umount_detach_fd(fd), 'umount2(MNT_DETACH)');
}
