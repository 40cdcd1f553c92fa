// Blocking work on callers' files, off Node's only thread and within a time
// limit. A caller's image or directory may sit on a FUSE or NFS file system
// whose server never answers; an open, read, close or mount there waits in
// the kernel, unkillably, for as long as the server likes. On the main
// thread that stalls every caller, so such steps run on libuv's pool
// (koffi's .async, see asyncCall) and the call stops waiting after a time
// limit and fails with Unavailable.
//
// A pool thread stuck in such a wait cannot be taken back until the server
// answers. So one uid may hold only `perUid` pool threads at once, and all
// uids together at most `total` (at most IO_CALLS_TOTAL of the pool):
// one user's stuck calls never leave other users without a thread, and the
// pool keeps threads for the daemon's own work. A job waits for a free
// thread within its time limit; a uid whose threads are all held by work
// its calls already gave up on is refused at once with QuotaExceeded.
import { QuotaExceeded, Unavailable } from '../errors';
import { IO_CALLS_TOTAL } from './threadpool';

export interface OffThreadLimits {
  /** Pool threads one uid may hold at once. */
  perUid: number;
  /** Pool threads all uids together may hold at once; capped at IO_CALLS_TOTAL. */
  total?: number;
  /** How long a call waits (for a thread, then for the work) before it fails with Unavailable. */
  timeoutMs: number;
}

export interface OffThreadJob<T> {
  uid: number;
  /** What did not answer, to start the error message: "The image's file system". */
  what: string;
  /**
   * The work. Each blocking step runs on the pool (asyncCall); between
   * steps it checks `signal`, aborted once the call gave up on it, and
   * stops. It holds its own fds (dups, not the caller's message fds, which
   * are closed when the call ends) and closes them itself.
   */
  work: (signal: AbortSignal) => Promise<T>;
  /** Takes back what the work made, when it finishes after the call gave up on it. */
  abandoned?: (result: T) => void;
  /** No time limit and no refusal, still within the limits: the work must happen (closing a file), however long it waits. */
  patient?: boolean;
}

interface Waiting {
  uid: number;
  start: () => void;
}

export class OffThread {
  private readonly held = new Map<number, number>();
  /** Of `held`, the threads whose call gave up on them: waiting for a server. */
  private readonly stuck = new Map<number, number>();
  private heldTotal = 0;
  private readonly waiting: Waiting[] = [];
  private readonly total: number;

  constructor(private readonly limits: OffThreadLimits) {
    this.total = Math.min(limits.total ?? IO_CALLS_TOTAL, IO_CALLS_TOTAL);
  }

  run<T>(job: OffThreadJob<T>): Promise<T> {
    const perUid = this.limits.perUid;
    if (!job.patient && (this.stuck.get(job.uid) ?? 0) >= perUid) {
      return Promise.reject(
        new QuotaExceeded(
          `${perUid} of your earlier calls still wait for a file system that does not answer (a FUSE or network file system whose server hangs?), as many as nsmountd lets one user have; call again once it answers.`,
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const controller = new AbortController();
      let started = false;
      let gaveUp = false;
      const entry: Waiting = { uid: job.uid, start: () => start() };
      const timer = job.patient
        ? undefined
        : setTimeout(() => {
            gaveUp = true;
            controller.abort();
            if (started) {
              this.adjust(this.stuck, job.uid, +1);
            } else {
              const index = this.waiting.indexOf(entry);
              if (index >= 0) this.waiting.splice(index, 1);
            }
            const seconds = Math.round(this.limits.timeoutMs / 100) / 10;
            reject(
              new Unavailable(
                `${job.what} did not answer within ${seconds} s ([daemon] io_timeout_sec); is it a FUSE or network file system whose server hangs? Nothing was made.`,
              ),
            );
          }, this.limits.timeoutMs);
      const start = () => {
        started = true;
        this.adjust(this.held, job.uid, +1);
        this.heldTotal++;
        const done = () => {
          clearTimeout(timer);
          this.adjust(this.held, job.uid, -1);
          if (gaveUp) this.adjust(this.stuck, job.uid, -1);
          this.heldTotal--;
          this.startWaiting();
        };
        Promise.resolve()
          .then(() => job.work(controller.signal))
          .then(
            (result) => {
              done();
              if (!gaveUp) resolve(result);
              else job.abandoned?.(result);
            },
            (err: unknown) => {
              done();
              if (!gaveUp) reject(err);
            },
          );
      };
      this.waiting.push(entry);
      this.startWaiting();
    });
  }

  /** Pool threads held for `uid` now, stuck or not. */
  heldBy(uid: number): number {
    return this.held.get(uid) ?? 0;
  }

  /** Pool threads held for all uids now. */
  get heldInTotal(): number {
    return this.heldTotal;
  }

  private startWaiting(): void {
    // First come, first served, except that a uid at its limit does not hold up others.
    for (let i = 0; i < this.waiting.length && this.heldTotal < this.total; ) {
      const next = this.waiting[i];
      if ((this.held.get(next.uid) ?? 0) >= this.limits.perUid) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      next.start();
    }
  }

  private adjust(counts: Map<number, number>, uid: number, by: number): void {
    const value = (counts.get(uid) ?? 0) + by;
    if (value > 0) counts.set(uid, value);
    else counts.delete(uid);
  }
}

type AsyncFunction = { async: (...args: unknown[]) => void };

/**
 * Runs a koffi function on libuv's pool: `fn.async(...args, callback)` as a
 * promise. errno is per thread: the function must report failure by its
 * return value (every libnsmount function returns -errno).
 */
export function asyncCall<T>(fn: unknown, ...args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    (fn as AsyncFunction).async(...args, (err: unknown, result: T) => (err ? reject(err) : resolve(result)));
  });
}
