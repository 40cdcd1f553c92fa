// The user namespace a caller wants a directory idmapped into. Its maps
// decide which host ids the mount shows, so only a namespace the caller
// owns may be named (root may name any but the initial one).
import { BadFileDescriptor, SystemError, WrongNamespace } from '../errors';
import { Errno } from '../native/errno';
import { namespaceOwnerUid, namespaceType, readUserNamespaceMaps } from '../native/nsfs';
import type { UserNamespaceMaps } from '../native/userns';
import { describeFileKind, fstatArgument } from './file-kind';

const ARGUMENT = 'userNamespace';

/** The namespace type of a passed fd; anything that is no usable namespace fd is the caller's error. */
export function namespaceTypeArgument(fd: number, argument: string): string {
  const stats = fstatArgument(fd, argument);
  try {
    return namespaceType(fd);
  } catch (err) {
    if (err instanceof SystemError && err.errno === Errno.ENOTTY) {
      throw new BadFileDescriptor(argument, `expected a user namespace, got ${describeFileKind(stats)}`);
    }
    // fstat worked, so the fd is open: ioctl refuses only O_PATH fds (found by the fuzzer, was a System error).
    if (err instanceof SystemError && err.errno === Errno.EBADF) {
      throw new BadFileDescriptor(argument, 'expected a user namespace, got an O_PATH fd, which cannot be asked; open it without O_PATH');
    }
    throw err;
  }
}

export function targetNamespaceMaps(fd: number, callerUid: number): UserNamespaceMaps {
  const type = namespaceTypeArgument(fd, ARGUMENT);
  if (type !== 'user') throw new BadFileDescriptor(ARGUMENT, `expected a user namespace, got a ${type} namespace`);
  if (callerUid !== 0 && namespaceOwnerUid(fd) !== callerUid) {
    throw new WrongNamespace('the user namespace is not owned by the caller');
  }
  try {
    return readUserNamespaceMaps(fd);
  } catch (err) {
    // For a user namespace fd EINVAL means it is the daemon's own (initial) one.
    if (err instanceof SystemError && err.errno === Errno.EINVAL) {
      throw new WrongNamespace('the initial user namespace cannot be an idmap target');
    }
    throw err;
  }
}
