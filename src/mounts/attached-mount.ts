// Finding the attachment an Unmount caller means. The mount is named by an
// fd of its root, never by a path, and found in the registry by its unique
// mount id, so nothing nsmountd did not attach can be unmounted through it.
import { NotFound } from '../errors';
import { fstatArgument } from '../idmap/file-kind';
import { isMountRoot, mountIdOf } from '../native/mount-api';
import type { MountRecord } from '../registry/state';
import { detachAttachedMount } from './attach';
import type { Attachments } from './attachments';

export interface AttachedMount {
  record: MountRecord;
  mountId: bigint;
}

/**
 * The attachment whose root `fd` is; NotFound, naming `argument`, when
 * nsmountd attached nothing on the mount `fd` lies on, or when `fd` is
 * inside such a mount rather than at its root.
 */
export function findAttachedMount(fd: number, attachments: Attachments, argument: string): AttachedMount {
  fstatArgument(fd, argument);
  const mountId = mountIdOf(fd);
  const record = attachments.find(mountId);
  if (!record) throw new NotFound(`${argument}: nsmountd did not attach anything there, so there is nothing to unmount`);
  if (!isMountRoot(fd)) {
    throw new NotFound(`${argument}: the fd is inside the mount at ${record.target}, not at its root; pass the mount point itself`);
  }
  return { record, mountId };
}

/** Detaches the attachment through `fd`, its root, and forgets it. */
export function unmountAttached(fd: number, found: AttachedMount, attachments: Attachments): void {
  detachAttachedMount({ targetFd: fd, expectedMountId: found.mountId });
  attachments.remove(found.mountId);
}
