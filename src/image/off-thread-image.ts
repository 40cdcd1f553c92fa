// Work on a caller's image off the event loop (src/native/off-thread.ts):
// the image may be on a FUSE or NFS server that never answers. Each job
// reads through its own dup of the image, because the caller's fd is
// closed when the call ends, which may be before the job does (the call
// gave up on it), and its number would soon name another file.
import { closeOffThread, dupCloexec } from '../native/fd';
import type { OffThread } from '../native/off-thread';
import type { MountedPartition } from './mount-image';

export type { OffThread };

/** Who did not answer, in the time-limit error. */
const IMAGE_FILE_SYSTEM = "The image's file system";

export interface ImageJob<T> {
  offThread: OffThread;
  uid: number;
  /** The caller's fd; the work gets its own dup of it. */
  imageFd: number;
  work: (imageFd: number, signal: AbortSignal) => Promise<T>;
  /** Takes back what the work made after the call gave up on it. */
  abandoned?: (result: T) => void;
}

export function readImageOffThread<T>(job: ImageJob<T>): Promise<T> {
  return job.offThread.run({
    uid: job.uid,
    what: IMAGE_FILE_SYSTEM,
    // Runs while the call still waits for it (a job given up before it
    // started never starts), so the caller's fd is still open here.
    work: async (signal) => {
      const own = dupCloexec(job.imageFd);
      try {
        return await job.work(own, signal);
      } finally {
        // Closing a file on FUSE waits for the server (FLUSH).
        await closeOffThread(own);
      }
    },
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
