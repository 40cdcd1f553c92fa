import { NSM_LOOP_DIRECT_IO, NSM_LOOP_READ_ONLY, nsm_loop_attach } from './bindings';
import { check } from './check';

export interface LoopAttachOptions {
  /** Start of the window in the backing file, bytes. */
  offset?: bigint;
  /** Length of the window; 0n or absent means up to the end of the file. */
  sizeLimit?: bigint;
  readOnly: boolean;
  /** Bypass the page cache of the backing file (falls back if unsupported). */
  directIo?: boolean;
}

export interface LoopDevice {
  /** O_CLOEXEC fd of /dev/loopN; closing it (with no mount left) frees the device. */
  fd: number;
  index: number;
  path: string;
}

/**
 * Attaches `backingFd` as it is (never reopened by path) to a free loop device
 * with autoclear. Throws SystemError('LOOP_CONFIGURE') with the errno.
 */
export function attachLoopDevice(backingFd: number, options: LoopAttachOptions): LoopDevice {
  const index: [number] = [0];
  const flags = (options.readOnly ? NSM_LOOP_READ_ONLY : 0) | (options.directIo ? NSM_LOOP_DIRECT_IO : 0);
  const fd = check(
    nsm_loop_attach(backingFd, options.offset ?? 0n, options.sizeLimit ?? 0n, flags, index),
    'LOOP_CONFIGURE',
  );
  return { fd, index: index[0], path: `/dev/loop${index[0]}` };
}
