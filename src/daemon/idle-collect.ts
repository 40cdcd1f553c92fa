// Gives memory back once a burst of calls is over. V8 collects its old
// generation only when that has grown to a multiple of what is live, so a
// daemon that goes quiet after a load keeps the load's garbage (15-20 MiB
// here) until the next burst. One full collection when the calls stop
// returns it, and a trim of the C heap then returns what native code freed;
// it costs a few ms, and only after the heap grew, so a lone call now and
// then never pays for one.
import v8 from 'node:v8';

export interface IdleCollectOptions {
  /** When the last call finished (Date.now() ms) and how many are in flight. */
  activity: () => { lastMs: number; inFlight: number };
  /** V8's full collection: globalThis.gc when the daemon runs with --expose-gc (DAEMON_NODE_OPTIONS). */
  gc: (() => void) | undefined;
  /** Gives the C heap's free pages back after the collection (glibc keeps them for reuse otherwise). */
  trimCHeap?: () => void;
  /** How long without calls counts as quiet. */
  quietMs?: number;
  /** How far the heap may grow past what the last collection left live before another is worth it. */
  growthBytes?: number;
  /** The heap's committed and used bytes (default V8's heap statistics). */
  heap?: () => { totalBytes: number; usedBytes: number };
}

function v8Heap(): { totalBytes: number; usedBytes: number } {
  const stats = v8.getHeapStatistics();
  return { totalBytes: stats.total_heap_size, usedBytes: stats.used_heap_size };
}

const DEFAULT_QUIET_MS = 1000;
const DEFAULT_GROWTH_BYTES = 4 * 1024 * 1024;

/** Starts watching for quiet; returns a function that stops it. Without a gc it does nothing. */
export function collectWhenIdle(opts: IdleCollectOptions): () => void {
  const gc = opts.gc;
  if (!gc) return () => {};
  const heap = opts.heap ?? v8Heap;
  const quietMs = opts.quietMs ?? DEFAULT_QUIET_MS;
  const growth = opts.growthBytes ?? DEFAULT_GROWTH_BYTES;
  // Right after a full collection the used bytes are what is live; the
  // committed bytes shrink only later, as V8 unmaps the pages it freed.
  let live = heap().usedBytes;
  /** The activity the last collection followed: one collection per quiet spell. */
  let collectedAfter: number | undefined;
  const timer = setInterval(() => {
    const { lastMs, inFlight } = opts.activity();
    if (inFlight > 0 || lastMs === collectedAfter || Date.now() - lastMs < quietMs) return;
    if (heap().totalBytes < live + growth) return;
    gc();
    opts.trimCHeap?.();
    collectedAfter = lastMs;
    live = heap().usedBytes;
  }, quietMs);
  // It never keeps the daemon alive on its own.
  timer.unref();
  return () => clearInterval(timer);
}
