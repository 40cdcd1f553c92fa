// statmount(2): a mount found by its unique id, wherever it is now.
import { libnsmount } from './library';
import { check } from './check';

const nsm_statmount_point = libnsmount.func('int nsm_statmount_point(uint64_t mnt_id, _Out_ uint8_t *path, uint32_t path_size)');

const PATH_BUFFER = Buffer.alloc(8192);

/**
 * The current mount point of the mount with unique id `uniqueMountId`,
 * as the daemon's mount namespace sees it. Throws SystemError ENOENT when
 * no such mount is attached here, ENOSYS before Linux 6.8.
 */
export function mountPointOf(uniqueMountId: bigint): string {
  const length = check(nsm_statmount_point(uniqueMountId, PATH_BUFFER, PATH_BUFFER.length), 'statmount');
  return PATH_BUFFER.toString('utf8', 0, length);
}
