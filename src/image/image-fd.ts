// Checks the caller's image fd before anything reads it, so a wrong kind of
// fd fails with a message naming what was passed instead of an errno from
// deep inside libblkid or the loop driver.
import { BadFileDescriptor } from '../errors';
import { fdStatusFlags } from '../native/fd';
import { O_PATH } from '../native/flags';
import { describeFileKind } from '../idmap/file-kind';
import { statFdCached, type CachedStat } from '../native/stat';
import { mayWaitForServer } from '../native/file-system-server';

const ARGUMENT = 'image';
const O_ACCMODE = 0o3;
const O_WRONLY = 0o1;
const O_RDONLY = 0o0;

export interface ImageFdInfo {
  kind: 'file' | 'block-device';
  /** The fd was opened O_RDONLY: the mount must be read-only too. */
  readOnly: boolean;
  /** st_size for files; undefined for block devices (libblkid asks the device). */
  sizeBytes?: bigint;
  /** The cached attributes this was decided from. */
  stat: CachedStat;
}

export function inspectImageFd(fd: number): ImageFdInfo {
  let flags: number;
  try {
    flags = fdStatusFlags(fd);
  } catch {
    throw new BadFileDescriptor(ARGUMENT, 'not an open file descriptor');
  }
  if (flags & O_PATH) {
    throw new BadFileDescriptor(ARGUMENT, 'an O_PATH fd cannot be read; open the image for reading');
  }
  if ((flags & O_ACCMODE) === O_WRONLY) {
    throw new BadFileDescriptor(ARGUMENT, 'the fd is open write-only; open the image for reading');
  }
  // Cached attributes: the image may be on a FUSE or NFS server that does not answer.
  const stat = statFdCached(fd);
  if (stat.isFile()) {
    return { kind: 'file', readOnly: (flags & O_ACCMODE) === O_RDONLY, sizeBytes: stat.size, stat };
  }
  if (stat.isBlockDevice()) return { kind: 'block-device', readOnly: (flags & O_ACCMODE) === O_RDONLY, stat };
  throw new BadFileDescriptor(ARGUMENT, `expected a regular file or block device, got ${describeFileKind(stat)}`);
}

/**
 * Whether reading the image may wait for a server that never answers. A
 * block device always may: a loop device's file or an nbd server is
 * behind it, and the file system its node lives on (devtmpfs) says
 * nothing about that. A file may as its file system says.
 */
export function imageMayWaitForServer(fd: number, info: ImageFdInfo): boolean {
  return info.kind !== 'file' || mayWaitForServer(fd);
}
