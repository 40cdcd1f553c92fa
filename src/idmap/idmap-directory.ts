// IdmapDirectory: a detached, idmapped clone of a caller's directory. All
// decisions are taken on the fd the caller passed, and that same fd is
// cloned: no path is ever resolved again between check and mount.
import { InvalidArgument, NotOwner, NotSupported, SystemError } from '../errors';
import { Errno } from '../native/errno';
import { closeQuietly } from '../native/fd';
import { mountIdsOf, openTreeClone, setMountAttributes } from '../native/mount-api';
import { createUserNamespace, type UserNamespaceMaps } from '../native/userns';
import { lockMountFlags, needsLockedFlags } from '../mounts/lock';
import { requireDirectory } from './file-kind';
import { isForeignId } from './foreign-range';
import { foreignIdmap, ownerIdmap, targetRootHostId } from './idmap-maps';

/**
 * foreign: foreign-range ids appear as ids 0..65535 of the target namespace.
 * owner: the directory owner appears as the target's root, or as the caller without a target.
 * identity: ids as on disk.
 * auto: foreign for a foreign-owned directory, owner for a caller-owned one.
 */
export type IdmapMode = 'foreign' | 'owner' | 'identity' | 'auto';
export type ResolvedIdmapMode = Exclude<IdmapMode, 'auto'>;

export interface IdmapDirectoryRequest {
  /** Any fd of a directory, O_PATH included. */
  directoryFd: number;
  callerUid: number;
  callerGid: number;
  /**
   * Maps of the target user namespace, as checkTargetNamespace found them:
   * required by 'foreign', optional for 'owner'.
   */
  userNamespaceMaps?: UserNamespaceMaps;
  mode: IdmapMode;
  readOnly: boolean;
  /**
   * Include submounts of the directory. Callers other than root get a
   * refusal (InvalidArgument "recursive") without it when there are any.
   */
  recursive: boolean;
  /** nosuid,nodev; forced for every non-root caller whatever this says. */
  forceNosuidNodev: boolean;
}

export interface IdmappedDirectory {
  /** Detached mount (O_PATH, O_CLOEXEC), its flags locked unless the caller is root; the caller of this function owns it. */
  mountFd: number;
  resolvedMode: ResolvedIdmapMode;
  /** STATX_MNT_ID_UNIQUE of the new mount (legacy id on kernels before 6.8); it keeps this id once attached. */
  mountId: bigint;
  /** The reusable id /proc/PID/mountinfo shows for it. */
  legacyMountId: number;
  directoryOwner: { uid: number; gid: number };
  /** Maps of the mount's idmap namespace; absent for 'identity'. */
  idmap?: UserNamespaceMaps;
  nosuidNodev: boolean;
}

export function idmapDirectory(request: IdmapDirectoryRequest): IdmappedDirectory {
  const stats = requireDirectory(request.directoryFd, 'directory');
  const owner = { uid: stats.uid, gid: stats.gid };
  const targetMaps = request.userNamespaceMaps;
  const resolvedMode = resolveMode(request.mode, owner.uid, request.callerUid);
  const idmap = idmapFor(resolvedMode, owner, request, targetMaps);
  const nosuidNodev = request.forceNosuidNodev || request.callerUid !== 0;
  const lockFlags = needsLockedFlags(request.callerUid);

  // A locked copy tells whether the tree has submounts (the kernel refuses
  // to leave out locked ones), so it must see them all.
  let mountFd = openTreeClone(request.directoryFd, { recursive: request.recursive || lockFlags });
  let idmapNamespaceFd: number | undefined;
  try {
    if (idmap) idmapNamespaceFd = createUserNamespace({ ownerUid: 0, ownerGid: 0, ...idmap });
    // One call: the idmap must be set while the mount is still detached.
    try {
      setMountAttributes(mountFd, {
        idmapUserNamespaceFd: idmapNamespaceFd,
        readOnly: request.readOnly,
        nosuid: nosuidNodev,
        nodev: nosuidNodev,
        recursive: request.recursive,
      });
    } catch (err) {
      throw idmapRefusal(err, idmapNamespaceFd !== undefined);
    }
    if (lockFlags) {
      const unlocked = mountFd;
      mountFd = -1; // lockMountFlags closes it
      mountFd = lockMountFlags(unlocked, { recursive: request.recursive });
    }
    const ids = mountIdsOf(mountFd);
    return {
      mountFd,
      resolvedMode,
      mountId: ids.unique !== 0n ? ids.unique : BigInt(ids.legacy),
      legacyMountId: ids.legacy,
      directoryOwner: owner,
      idmap,
      nosuidNodev,
    };
  } catch (err) {
    closeQuietly(mountFd);
    throw err;
  } finally {
    // The mount holds its own reference to the idmap namespace.
    closeQuietly(idmapNamespaceFd);
  }
}

function resolveMode(mode: IdmapMode, ownerUid: number, callerUid: number): ResolvedIdmapMode {
  switch (mode) {
    case 'foreign':
    case 'owner':
    case 'identity':
      return mode;
    case 'auto':
      if (isForeignId(ownerUid)) return 'foreign';
      if (ownerUid === callerUid) return 'owner';
      throw new NotOwner(
        `the directory is owned by uid ${ownerUid}, which is neither the caller nor in the foreign range; pick a mode explicitly`,
      );
    default:
      throw new InvalidArgument('mode', `must be one of foreign, owner, identity, auto; got ${String(mode)}`);
  }
}

function idmapFor(
  mode: ResolvedIdmapMode,
  owner: { uid: number; gid: number },
  request: IdmapDirectoryRequest,
  targetMaps: UserNamespaceMaps | undefined,
): UserNamespaceMaps | undefined {
  switch (mode) {
    case 'identity':
      return undefined;
    case 'foreign':
      if (!targetMaps) throw new InvalidArgument('userNamespace', 'the foreign mode needs a target user namespace');
      return { uidMap: foreignIdmap(targetMaps.uidMap, 'uid'), gidMap: foreignIdmap(targetMaps.gidMap, 'gid') };
    case 'owner':
      return {
        uidMap: ownerIdmap(owner.uid, targetMaps ? targetRootHostId(targetMaps.uidMap, 'uid') : request.callerUid),
        gidMap: ownerIdmap(owner.gid, targetMaps ? targetRootHostId(targetMaps.gidMap, 'gid') : request.callerGid),
      };
  }
}

/**
 * mount_setattr(MOUNT_ATTR_IDMAP) has two refusals with a specific meaning
 * for the daemon, which is privileged over every superblock it can reach:
 * EINVAL, the filesystem cannot do idmapped mounts (procfs, sysfs, ...), and
 * EPERM, the directory already sits on an idmapped mount.
 */
function idmapRefusal(err: unknown, idmapping: boolean): unknown {
  if (!idmapping || !(err instanceof SystemError)) return err;
  if (err.errno === Errno.EINVAL) return new NotSupported('directory: its filesystem does not support idmapped mounts');
  if (err.errno === Errno.EPERM) return new NotSupported('directory: it is on an idmapped mount, which cannot be idmapped again');
  return err;
}
