// Detached mounts a call made but will not hand out, because a later step
// failed: closing the last fd of a detached mount unmounts it, and an
// image's loop device goes with it.
import { closeQuietly } from '../native/fd';

export function releaseDetachedMounts(mountFds: Iterable<number>): void {
  for (const fd of mountFds) closeQuietly(fd);
}
