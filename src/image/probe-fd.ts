// libblkid reads with lseek+read on the fd it is given, which moves the file
// offset of the open file description the caller shares with us: a client
// that passed an fd it was also reading would find its position changed.
// Probing goes through a private open file description of the same file
// instead: /proc/self/fd/N reopens the very inode (no path lookup the caller
// could redirect), read-only whatever the caller's mode, and closes with the
// probe. The loop device keeps using the caller's fd itself.
//
// The open is O_NONBLOCK: a caller holding a write lease (F_SETLEASE) on
// the file would otherwise make it wait out the lease-break time (45 s) on
// Node's only thread, stalling every other caller. Non-blocking, the open
// fails at once with EWOULDBLOCK instead; reads from a regular file or a
// block device ignore the flag.
import fs from 'node:fs';
import { BadFileDescriptor, SystemError } from '../errors';
import { Errno } from '../native/errno';

/** Runs `probe` with a fresh O_RDONLY|O_CLOEXEC fd of the file behind `fd`. */
export function withPrivateProbeFd<T>(fd: number, probe: (privateFd: number) => T): T {
  let privateFd: number;
  try {
    // libuv adds O_CLOEXEC to every open.
    privateFd = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).errno;
    if (typeof errno === 'number' && Math.abs(errno) === Errno.EAGAIN) {
      throw new BadFileDescriptor('image', 'another program holds a lease on the file; call again when it has released it');
    }
    throw new SystemError(typeof errno === 'number' ? errno : Errno.EIO, 'reopen the image for probing', { task: 'read the image' });
  }
  try {
    return probe(privateFd);
  } finally {
    fs.closeSync(privateFd);
  }
}
