// libblkid reads with lseek+read on the fd it is given, which moves the file
// offset of the open file description the caller shares with us: a client
// that passed an fd it was also reading would find its position changed.
// Probing goes through a private open file description of the same file
// instead: /proc/self/fd/N reopens the very inode (no path lookup the caller
// could redirect), read-only whatever the caller's mode, and is closed when
// the dissection ends. The loop device keeps using the caller's fd itself.
//
// The open is O_NONBLOCK: a caller holding a write lease (F_SETLEASE) on
// the file would otherwise make it wait out the lease-break time (45 s),
// Non-blocking, the open fails at once with EWOULDBLOCK instead; reads
// from a regular file or a block device ignore the flag.
//
// The reopen happens inside the first probe. Every probe and the close
// run by the dissection's runner: on libuv's pool when the file may be on
// FUSE or NFS, where each of them may wait for a server that never answers
// (src/native/native-runner.ts).
import { BadFileDescriptor, SystemError } from '../errors';
import { Errno } from '../native/errno';
import { ON_THE_POOL, type NativeRunner } from '../native/native-runner';
import { probe, ProbeError, type ProbeOptions, type ProbeResult } from '../native/blkid';

/** The probes of one dissection, all through one private fd of the caller's file. */
export class ImageProbes {
  private privateFd = -1;

  constructor(
    private readonly fd: number,
    private readonly runner: NativeRunner,
  ) {}

  async probe(options: ProbeOptions): Promise<ProbeResult> {
    const reopen = this.privateFd < 0;
    try {
      return await probe({ fd: reopen ? this.fd : this.privateFd, reopen, runner: this.runner }, options, (fd) => (this.privateFd = fd));
    } catch (err) {
      if (err instanceof ProbeError && !err.reopened) throw reopenError(err.errno);
      throw err;
    }
  }

  /** Closes the private fd (by the runner: closing a file on FUSE waits for the server). */
  async close(): Promise<void> {
    const fd = this.privateFd;
    this.privateFd = -1;
    await this.runner.close(fd);
  }
}

function reopenError(errno: number): Error {
  if (errno === Errno.EAGAIN) {
    return new BadFileDescriptor('image', 'another program holds a lease on the file; call again when it has released it');
  }
  return new SystemError(errno, 'reopen the image for probing', { task: 'read the image' });
}

/** Runs `dissect` with the probes of one dissection of the file behind `fd`, closing them after. */
export async function withImageProbes<T>(
  fd: number,
  dissect: (probes: ImageProbes) => Promise<T>,
  through: { runner?: NativeRunner } = {},
): Promise<T> {
  const probes = new ImageProbes(fd, through.runner ?? ON_THE_POOL);
  try {
    return await dissect(probes);
  } finally {
    await probes.close();
  }
}
