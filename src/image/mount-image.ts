// Mounts the partitions of a dissected image: one autoclear loop device per
// partition (this kernel has no partition scanning), a detached fsmount per
// loop device, optionally idmapped. The loop fd is closed as soon as the
// mount holds the device, so the device lives exactly as long as the mount.
// Every step that reads the image (dissection, LOOP_CONFIGURE, creating the
// superblock) and every close of a mount made here runs on libuv's pool,
// except the dissection when the caller's runner says the image cannot
// wait on a server: the image may be a caller's file on a FUSE or NFS
// server that never answers (src/native/off-thread.ts), and so may the
// backing file of a loop device under an image that looks local
// (src/native/file-system-server.ts). Mounting and unmounting stay on the
// pool even then: they sleep in the kernel (native/fsmount.ts).
import { BadImage, InvalidArgument, NotSupported, NoMountablePartition, SystemError } from '../errors';
import { Errno } from '../native/errno';
import { closeOffThread, closeQuietly } from '../native/fd';
import { ON_THE_POOL, type NativeRunner } from '../native/native-runner';
import { statFdCached } from '../native/stat';
import { createUserNamespace } from '../native/userns';
import { ownerIdmap } from '../idmap/idmap-maps';
import { FsMountError, loopFsMount } from '../native/fsmount';
import { setMountAttributes } from '../native/mount-api';
import { lockMountFlags } from '../mounts/lock';
import { dissectImage, mountableFileSystem, type DissectedImage, type DissectedPartition } from './dissect';
import { parseMountOptions, resolveMountOptions, type FileSystem } from './filesystems';
import { inspectImageFd, type ImageFdInfo } from './image-fd';
import { DESIGNATORS, type Designator } from './partition-types';

/** Mounted when the caller names no partitions; ESP and XBOOTLDR only on request. */
const DEFAULT_DESIGNATORS: readonly Designator[] = ['root', 'usr', 'home', 'srv', 'var', 'tmp', 'data'];

export interface MountImageOptions {
  /** The caller's fd, used as it is: never reopened by path. */
  imageFd: number;
  /** What inspectImageFd found for this very fd; absent: inspected here. */
  info?: ImageFdInfo;
  readOnly: boolean;
  /** Designators to mount; absent: DEFAULT_DESIGNATORS that the image has (minus no-auto). */
  partitions?: readonly string[];
  /** Idmap every mount through this user namespace. */
  userNamespaceFd?: number;
  /**
   * Idmap every mount so the owner of its root directory (as on disk)
   * appears as these ids, every other id as the overflow id: the image
   * looks like the caller's own. Excludes userNamespaceFd.
   */
  showOwnerAs?: { uid: number; gid: number };
  /** nosuid and nodev on every mount (for non-root callers). */
  forceNosuidNodev: boolean;
  /** Lock every mount's flags (for non-root callers; see src/mounts/lock.ts). */
  lockFlags?: boolean;
  /** Comma-separated MountOptions text, checked per filesystem. */
  mountOptions?: string;
  /**
   * The dissection authorization was based on: mounting exactly those
   * ranges and types keeps what polkit was told true even if the image
   * changes in between. Absent: dissected here.
   */
  dissected?: DissectedImage;
  /** Aborted once nobody waits for the answer: stop before the next step, taking back what was made. */
  signal?: AbortSignal;
  /** Where the dissection's reads run; absent: on libuv's pool. */
  runner?: NativeRunner;
}

export interface MountedPartition {
  designator: string;
  fstype: string;
  uuid: string | null;
  label: string | null;
  offset: bigint;
  size: bigint;
  readOnly: boolean;
  /** Detached mount, O_CLOEXEC; owned by the caller of mountImage. */
  mountFd: number;
}

/** The partitions a request names (or the default set), or why none can be mounted. */
export function selectPartitions(all: readonly DissectedPartition[], requested?: readonly string[]): DissectedPartition[] {
  if (requested === undefined) {
    const selected = all.filter((p) => DEFAULT_DESIGNATORS.includes(p.designator) && !p.noAuto);
    if (selected.length === 0) {
      const present = all.map((p) => p.designator + (p.noAuto ? ' (no-auto)' : '')).join(', ') || 'none';
      throw new NoMountablePartition(`the image has no partition to mount by default (designated partitions: ${present})`);
    }
    return selected;
  }
  if (requested.length === 0) throw new InvalidArgument('options.Partitions', 'names no partition');
  const selected: DissectedPartition[] = [];
  for (const name of requested) {
    if (!(DESIGNATORS as readonly string[]).includes(name)) {
      throw new InvalidArgument('options.Partitions', `unknown designator "${name}" (known: ${DESIGNATORS.join(', ')})`);
    }
    if (selected.some((p) => p.designator === name)) {
      throw new InvalidArgument('options.Partitions', `"${name}" is listed twice`);
    }
    const partition = all.find((p) => p.designator === name);
    if (!partition) {
      const present = all.map((p) => p.designator).join(', ') || 'none';
      throw new NoMountablePartition(`the image has no ${name} partition (it has: ${present})`);
    }
    selected.push(partition);
  }
  return selected;
}

function where(partition: DissectedPartition): string {
  return partition.partitionNumber === null
    ? `the image (${partition.designator})`
    : `partition ${partition.partitionNumber} (${partition.designator})`;
}

// EFSCORRUPTED is EUCLEAN; Node does not export it (117 on asm-generic).
const EUCLEAN = (Errno as Record<string, number | undefined>).EUCLEAN ?? 117;

/** Turns an fsopen/fsconfig/fsmount failure into the error a caller can act on. */
function translateMountError(error: unknown, partition: DissectedPartition, fs: FileSystem): unknown {
  if (!(error instanceof FsMountError)) return error;
  const why = error.log.length ? `: ${error.log.join('; ')}` : '';
  if (error.step === 'open' && error.errno === Errno.ENODEV) {
    return new NotSupported(`the running kernel has no ${fs.driver} driver, needed for ${where(partition)}`);
  }
  if (error.step === 'option' && error.errno === Errno.EINVAL) {
    return new InvalidArgument('options.MountOptions', `${fs.driver} refused an option for ${where(partition)}${why}`);
  }
  if (
    error.step === 'create' &&
    [Errno.EINVAL, EUCLEAN, Errno.EBADMSG, Errno.EFBIG, Errno.EIO].includes(error.errno)
  ) {
    return new BadImage(`${fs.driver} cannot mount ${where(partition)}: it looks damaged or is not a valid ${fs.driver} file system${why}`);
  }
  return error;
}

function translateIdmapError(error: unknown, fstype: string): unknown {
  if (error instanceof SystemError && error.errno === Errno.EINVAL) {
    return new NotSupported(`${fstype} file systems cannot be mapped to other ids on this kernel, so the Mode and UserNamespace options cannot be used with this image`);
  }
  return error;
}

/** The owner mode: the root directory's on-disk owner appears as `as`. */
function idmapRootOwner(mountFd: number, as: { uid: number; gid: number }, driver: string): void {
  // Not idmapped yet, so fstat gives the ids as stored in the image.
  const root = statFdCached(mountFd);
  const namespaceFd = createUserNamespace({
    ownerUid: 0,
    ownerGid: 0,
    uidMap: ownerIdmap(root.uid, as.uid),
    gidMap: ownerIdmap(root.gid, as.gid),
  });
  try {
    setMountAttributes(mountFd, { idmapUserNamespaceFd: namespaceFd });
  } catch (error) {
    throw translateIdmapError(error, driver);
  } finally {
    closeQuietly(namespaceFd);
  }
}

async function mountPartition(fd: number, partition: DissectedPartition, options: MountImageOptions, readOnlyFd: boolean): Promise<MountedPartition> {
  const fs = mountableFileSystem(partition);
  const readOnly = options.readOnly || readOnlyFd || fs.alwaysReadOnly || partition.readOnlyFlag;
  const resolved = resolveMountOptions(parseMountOptions(options.mountOptions ?? ''), fs, { readOnly });
  let mountFd = -1;
  try {
    try {
      mountFd = await loopFsMount(fd, { offset: partition.offset, sizeLimit: partition.size }, {
        fstype: fs.driver,
        options: resolved.fsOptions,
        readOnly,
        nosuid: options.forceNosuidNodev,
        nodev: options.forceNosuidNodev,
        noexec: resolved.attributes.noexec,
        atime: resolved.attributes.atime,
        nodiratime: resolved.attributes.nodiratime,
      });
    } catch (error) {
      throw translateMountError(error, partition, fs);
    }
    options.signal?.throwIfAborted();
    if (options.userNamespaceFd !== undefined) {
      try {
        setMountAttributes(mountFd, { idmapUserNamespaceFd: options.userNamespaceFd });
      } catch (error) {
        throw translateIdmapError(error, fs.driver);
      }
    }
    if (options.showOwnerAs) idmapRootOwner(mountFd, options.showOwnerAs, fs.driver);
    if (options.lockFlags) {
      const unlocked = mountFd;
      mountFd = -1; // lockMountFlags closes it
      mountFd = lockMountFlags(unlocked, { recursive: false });
    }
  } catch (error) {
    // The last reference: unmounting it may write to the device, and so to
    // the image, and sleeps in the kernel however local the image is.
    if (mountFd >= 0) await closeOffThread(mountFd);
    throw error;
  }
  return {
    designator: partition.designator,
    fstype: partition.fstype ?? fs.name,
    uuid: partition.uuid,
    label: partition.label,
    offset: partition.offset,
    size: partition.size,
    readOnly,
    mountFd,
  };
}

/**
 * Dissects the image and mounts the selected partitions. Either every
 * selected partition is mounted, or none is: on failure every mount fd and
 * loop fd made so far is closed, so no loop device outlives the call.
 */
export async function mountImage(options: MountImageOptions): Promise<MountedPartition[]> {
  const info = options.info ?? inspectImageFd(options.imageFd);
  // Syntax errors in MountOptions fail before any device is touched.
  parseMountOptions(options.mountOptions ?? '');
  const runner = options.runner ?? ON_THE_POOL;
  const image = options.dissected ?? (await dissectImage(options.imageFd, { sizeBytes: info.sizeBytes, runner }, options.signal));
  options.signal?.throwIfAborted();
  const selected = selectPartitions(image.partitions, options.partitions);
  // Refuse unsupported filesystems before the first loop device exists.
  for (const partition of selected) mountableFileSystem(partition);

  const mounted: MountedPartition[] = [];
  try {
    for (const partition of selected) {
      mounted.push(await mountPartition(options.imageFd, partition, options, info.readOnly));
    }
  } catch (error) {
    await Promise.all(mounted.map((m) => closeOffThread(m.mountFd)));
    throw error;
  }
  return mounted;
}
