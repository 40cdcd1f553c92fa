// fstat of a caller's fd that never waits for a file system's server. A
// caller may pass a file on FUSE or NFS whose server does not answer; a
// plain fstat asks that server for fresh attributes (once the cached ones
// expire) on Node's only thread, stalling every other caller. statx with
// AT_STATX_DONT_SYNC returns what the kernel has cached instead: for local
// file systems the same answer, for FUSE and NFS the attributes as of the
// last time the server was asked (its file, its answer either way).
import { nsm_stat_fd_cached } from './bindings';
import { check } from './check';

const S_IFMT = 0o170000;

export class CachedStat {
  constructor(
    readonly mode: number,
    readonly uid: number,
    readonly gid: number,
    /** st_dev as fs.BigIntStats gives it (glibc's makedev). */
    readonly dev: bigint,
    readonly ino: bigint,
    readonly size: bigint,
  ) {}

  private is(type: number): boolean {
    return (this.mode & S_IFMT) === type;
  }
  isDirectory(): boolean {
    return this.is(0o040000);
  }
  isFile(): boolean {
    return this.is(0o100000);
  }
  isBlockDevice(): boolean {
    return this.is(0o060000);
  }
  isCharacterDevice(): boolean {
    return this.is(0o020000);
  }
  isFIFO(): boolean {
    return this.is(0o010000);
  }
  isSocket(): boolean {
    return this.is(0o140000);
  }
  isSymbolicLink(): boolean {
    return this.is(0o120000);
  }
}

/** statx(fd, "", AT_EMPTY_PATH|AT_STATX_DONT_SYNC); O_PATH fds too. Throws SystemError('statx'). */
export function statFdCached(fd: number): CachedStat {
  const out = new BigUint64Array(6);
  check(nsm_stat_fd_cached(fd, out), 'statx');
  return new CachedStat(Number(out[0]), Number(out[1]), Number(out[2]), out[3], out[4], out[5]);
}
