// libblkid reads with lseek+read on the fd it is given, which moves the file
// offset of the open file description the caller shares with us: a client
// that passed an fd it was also reading would find its position changed.
// Probing goes through a private open file description of the same file
// instead: /proc/self/fd/N reopens the very inode (no path lookup the caller
// could redirect), read-only whatever the caller's mode, and closes with the
// probe. The loop device keeps using the caller's fd itself.
import fs from 'node:fs';
import { SystemError } from '../errors';
import { Errno } from '../native/errno';

/** Runs `probe` with a fresh O_RDONLY|O_CLOEXEC fd of the file behind `fd`. */
export function withPrivateProbeFd<T>(fd: number, probe: (privateFd: number) => T): T {
  let privateFd: number;
  try {
    // libuv adds O_CLOEXEC to every open.
    privateFd = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY | fs.constants.O_NOCTTY);
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).errno;
    throw new SystemError(typeof errno === 'number' ? errno : Errno.EIO, 'reopen the image for probing');
  }
  try {
    return probe(privateFd);
  } finally {
    fs.closeSync(privateFd);
  }
}
