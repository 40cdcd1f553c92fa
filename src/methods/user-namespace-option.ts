// The UserNamespace option of IdmapDirectory. Its maps decide which host
// ids the mount shows, so a non-root caller may only name a namespace
// nsmountd allocated for that same caller: one it merely owns (made with
// unshare) could map ids it was never given. Root may name any but the
// initial namespace.
import { BadFileDescriptor, WrongNamespace } from '../errors';
import { namespaceId } from '../native/nsfs';
import type { UserNamespaceMaps } from '../native/userns';
import { namespaceTypeArgument, targetNamespaceMaps } from '../idmap/target-namespace';
import type { UserNamespaceAllocator } from '../userns/allocator';
import { renameArgument } from './argument-errors';

export const USER_NAMESPACE_OPTION = 'options.UserNamespace';

export interface TargetNamespace {
  maps: UserNamespaceMaps;
  /** The allocation's name when nsmountd made the namespace; for polkit details. */
  name?: string;
}

export function checkUserNamespaceOption(fd: number, callerUid: number, allocator: UserNamespaceAllocator): TargetNamespace {
  const type = namespaceTypeArgument(fd, USER_NAMESPACE_OPTION);
  if (type !== 'user') throw new BadFileDescriptor(USER_NAMESPACE_OPTION, `expected a user namespace, got a ${type} namespace`);
  // Namespace ids are never reused, and a live fd keeps the record alive.
  const record = allocator.findByNamespaceId(namespaceId(fd));
  if (record && (callerUid === 0 || record.ownerUid === callerUid)) {
    // The registry knows the maps: no need to read them back from the kernel.
    const map = [{ inside: 0, outside: record.base, count: record.size }];
    return { maps: { uidMap: map, gidMap: map }, name: record.name };
  }
  if (callerUid !== 0) {
    throw new WrongNamespace(
      record
        ? `${USER_NAMESPACE_OPTION}: the user namespace was allocated for another user`
        : `${USER_NAMESPACE_OPTION}: not a user namespace nsmountd allocated for the caller (use AllocateUserNamespace)`,
    );
  }
  try {
    return { maps: targetNamespaceMaps(fd, 0) };
  } catch (err) {
    throw renameArgument(err, USER_NAMESPACE_OPTION, ['userNamespace']);
  }
}
