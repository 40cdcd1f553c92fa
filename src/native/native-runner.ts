// Where the blocking libnsmount calls of one piece of work on a caller's
// file run. On libuv's pool (off-thread.ts) when the file may wait for a
// server that never answers (file-system-server.ts); on Node's own thread
// when it cannot, which saves a pool hop per call. Chosen once per call
// from the fd and handed down as an option, never kept in a global, so
// interleaved calls each keep their own.
import { nsm_close } from './bindings';
import { asyncCall } from './off-thread';

export interface NativeRunner {
  /** Whether the calls run on libuv's pool. */
  readonly offThread: boolean;
  /** `fn(...args)`, a libnsmount binding returning -errno on failure. */
  call(fn: unknown, ...args: unknown[]): Promise<number>;
  /** close(2); on the pool, closing a file on FUSE waits for the server (FLUSH). */
  close(fd: number): Promise<void>;
}

export const ON_THE_POOL: NativeRunner = {
  offThread: true,
  call: (fn, ...args) => asyncCall<number>(fn, ...args),
  async close(fd) {
    if (fd >= 0) await asyncCall<number>(nsm_close, fd);
  },
};

export const ON_THIS_THREAD: NativeRunner = {
  offThread: false,
  call: (fn, ...args) => Promise.resolve((fn as (...a: unknown[]) => number)(...args)),
  async close(fd) {
    if (fd >= 0) nsm_close(fd);
  },
};
