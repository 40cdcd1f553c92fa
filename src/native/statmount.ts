// statmount(2): a mount found by its unique id, wherever it is now.
import { nsm_statmount_point } from './bindings';
import { check } from './check';

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
