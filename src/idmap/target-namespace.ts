// The user namespace a caller wants a directory idmapped into. Its maps
// decide which host ids the mount shows, so only a namespace the caller
// owns may be named (root may name any but the initial one).
import { BadFileDescriptor, SystemError, WrongNamespace } from '../errors';
import { Errno } from '../native/errno';
import { namespaceOwnerUid, namespaceType, readUserNamespaceMaps } from '../native/nsfs';
import type { UserNamespaceMaps } from '../native/userns';
import { describeFileKind, fstatArgument } from './file-kind';

const ARGUMENT = 'userNamespace';

export function targetNamespaceMaps(fd: number, callerUid: number): UserNamespaceMaps {
  const stats = fstatArgument(fd, ARGUMENT);
  let type: string;
  try {
    type = namespaceType(fd);
  } catch (err) {
    if (err instanceof SystemError && err.errno === Errno.ENOTTY) {
      throw new BadFileDescriptor(ARGUMENT, `expected a user namespace, got ${describeFileKind(stats)}`);
    }
    throw err;
  }
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
