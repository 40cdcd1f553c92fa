// The user namespace a caller names for an idmapped mount (the
// UserNamespace option of IdmapDirectory and Mount). Its maps decide which
// host ids the mount shows, so a non-root caller may only name a namespace
// nsmountd allocated for that same caller: one it merely owns (made with
// unshare) could map ids it was never given. Root may name any but the
// initial namespace.
import { BadFileDescriptor, SystemError, WrongNamespace } from '../errors';
import { Errno } from '../native/errno';
import { namespaceId, namespaceType, readUserNamespaceMaps } from '../native/nsfs';
import type { UserNamespaceMaps } from '../native/userns';
import type { NamespaceRecord } from '../registry/state';
import { describeFileKind, fstatArgument } from './file-kind';

export interface TargetNamespace {
  maps: UserNamespaceMaps;
  /** The allocation's name when nsmountd made the namespace; for polkit details. */
  name?: string;
}

export interface TargetNamespaceRequest {
  callerUid: number;
  /** The namespaces nsmountd allocated (the allocator). */
  allocations: { findByNamespaceId(id: bigint): NamespaceRecord | undefined };
  /** How the caller named the fd, for the messages of refusals. */
  argument: string;
}

export function checkTargetNamespace(fd: number, request: TargetNamespaceRequest): TargetNamespace {
  const { callerUid, argument } = request;
  const type = namespaceTypeArgument(fd, argument);
  if (type !== 'user') throw new BadFileDescriptor(argument, `expected a user namespace, got a ${type} namespace`);
  // Namespace ids are never reused, and a live fd keeps the record alive.
  const record = request.allocations.findByNamespaceId(namespaceId(fd));
  if (record && (callerUid === 0 || record.ownerUid === callerUid)) {
    // The registry knows the maps: no need to read them back from the kernel.
    const map = [{ inside: 0, outside: record.base, count: record.size }];
    return { maps: { uidMap: map, gidMap: map }, name: record.name };
  }
  if (callerUid !== 0) {
    throw new WrongNamespace(
      record
        ? `${argument}: the user namespace was allocated for another user`
        : `${argument}: not a user namespace nsmountd allocated for the caller (use AllocateUserNamespace)`,
    );
  }
  return { maps: mapsOf(fd, argument) };
}

/** The namespace type of a passed fd; anything that is no usable namespace fd is the caller's error. */
function namespaceTypeArgument(fd: number, argument: string): string {
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

function mapsOf(fd: number, argument: string): UserNamespaceMaps {
  try {
    return readUserNamespaceMaps(fd);
  } catch (err) {
    // For a user namespace fd EINVAL means it is the daemon's own (initial) one.
    if (err instanceof SystemError && err.errno === Errno.EINVAL) {
      throw new WrongNamespace(`${argument}: the initial user namespace cannot be an idmap target`);
    }
    throw err;
  }
}
