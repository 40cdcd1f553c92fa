// Callers pass fds; each method needs a specific kind and says what it got
// instead, since "wrong fd" alone leaves a client guessing.
import type fs from 'node:fs';
import { BadFileDescriptor, SystemError } from '../errors';
import { Errno } from '../native/errno';
import { statFdCached, type CachedStat } from '../native/stat';

export function describeFileKind(stats: fs.Stats | fs.BigIntStats | CachedStat): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFile()) return 'a regular file';
  if (stats.isSocket()) return 'a socket';
  if (stats.isFIFO()) return 'a pipe';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'an unknown file type';
}

/**
 * fstat of an fd the caller passed, from the kernel's cached attributes:
 * never waiting for a FUSE or NFS server (native/stat.ts). A number that
 * is not an open fd is the caller's error.
 */
export function fstatArgument(fd: number, argument: string): CachedStat {
  try {
    return statFdCached(fd);
  } catch (err) {
    if (err instanceof SystemError && err.errno === Errno.EBADF) {
      throw new BadFileDescriptor(argument, 'not an open file descriptor');
    }
    throw err;
  }
}

/** fstat result of `fd`, which must be a directory (O_PATH is fine). */
export function requireDirectory(fd: number, argument: string): CachedStat {
  const stats = fstatArgument(fd, argument);
  if (!stats.isDirectory()) {
    throw new BadFileDescriptor(argument, `expected a directory, got ${describeFileKind(stats)}`);
  }
  return stats;
}
