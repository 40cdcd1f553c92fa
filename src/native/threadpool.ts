// The size of libuv's thread pool, where koffi's .async calls and Node's
// asynchronous fs calls run. Work that may wait for a caller's file (a FUSE
// or NFS server that never answers) runs there (off-thread.ts), and a
// thread stuck in such a wait stays stuck until the server answers. libuv
// reads UV_THREADPOOL_SIZE once, when the pool first starts, so
// sizeThreadPool() runs before anything uses it.

/** Threads in the pool (libuv's default is 4). */
export const THREADPOOL_SIZE = 16;
/** Of those, at most this many run work on callers' files; the rest stay free for the daemon's own. */
export const IO_CALLS_TOTAL = 12;

export function sizeThreadPool(): void {
  process.env.UV_THREADPOOL_SIZE = String(THREADPOOL_SIZE);
}
