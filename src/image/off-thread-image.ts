// Work on a caller's image, on Node's thread when the image cannot wait on
// a server, otherwise off the event loop (src/native/off-thread.ts): the
// image may be on a FUSE or NFS server that never answers. Off the event
// loop, each job reads through its own dup of the image, because the
// caller's fd is closed when the call ends, which may be before the job
// does (the call gave up on it), and its number would soon name another
// file. On Node's thread the call waits for the work, so the caller's fd
// serves, and there is no time limit to keep.
import { closeOffThread, withOwnFd } from '../native/fd';
import { ON_THE_POOL, ON_THIS_THREAD, type NativeRunner } from '../native/native-runner';
import type { OffThread } from '../native/off-thread';
import type { MountedPartition } from './mount-image';

export type { OffThread };

/** Who did not answer, in the time-limit error. */
const IMAGE_FILE_SYSTEM = "The image's file system";

/** How the work reaches the image: the runner for its native steps, and (off the event loop) a signal aborted once the call gave up. */
export interface ImageWorkContext {
  runner: NativeRunner;
  signal?: AbortSignal;
}

export type ImageWork<T> = (imageFd: number, through: ImageWorkContext) => Promise<T>;

export interface ImageJob<T> {
  offThread: OffThread;
  uid: number;
  /** The caller's fd; off the event loop the work gets its own dup of it. */
  imageFd: number;
  /** From imageMayWaitForServer (image-fd.ts): false runs the work on Node's thread. */
  mayWaitForServer: boolean;
  work: ImageWork<T>;
  /** Takes back what the work made after the call gave up on it. */
  abandoned?: (result: T) => void;
}

export function readImage<T>(job: ImageJob<T>): Promise<T> {
  if (!job.mayWaitForServer) return job.work(job.imageFd, { runner: ON_THIS_THREAD });
  return job.offThread.run({
    uid: job.uid,
    what: IMAGE_FILE_SYSTEM,
    // Runs while the call still waits for it (a job given up before it
    // started never starts), so the caller's fd is still open here.
    work: (signal) => withOwnFd(job.imageFd, (own) => job.work(own, { runner: ON_THE_POOL, signal })),
    abandoned: job.abandoned,
  });
}

/** Mounts made for a call that gave up on them: nobody gets them. */
export function releaseAbandonedMounts(offThread: OffThread, uid: number, mounted: readonly MountedPartition[]): void {
  for (const { mountFd } of mounted) {
    // Unmounting the last reference may write to the image: off the event loop too.
    void offThread.run({ uid, what: IMAGE_FILE_SYSTEM, patient: true, work: () => closeOffThread(mountFd) }).catch(() => {});
  }
}
