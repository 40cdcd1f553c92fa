// The registry's flock, taken without ever blocking the event loop: a
// process that holds it (another tool, an administrator's flock(1), a
// stuck NFS server) must not freeze the daemon, whose Ping and every call
// not needing the registry go on being answered. A call that needs it
// waits asynchronously for a bounded time, then fails with Unavailable.
import fs from 'node:fs';
import { flock, LOCK_EX, LOCK_NB, LOCK_UN } from '../native/fd';
import { SystemError, Unavailable } from '../errors';
import { Errno } from '../native/errno';

/** The lock stayed with another process past the wait allowed. */
class RegistryBusy extends Unavailable {}

export interface WaitOptions {
  timeoutMs: number;
  /** Called once when the lock is found taken, before waiting. */
  onWait?: () => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RegistryLock {
  private readonly fd: number;
  /** True while a step runs with the lock taken for it: registry accesses inside it need no flock of their own. */
  private held = false;
  /** Counts the steps that took the lock (see currentStep). */
  private steps = 0;

  constructor(private readonly file: string) {
    // libuv opens with O_CLOEXEC.
    this.fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /**
   * Which step of whenFree holds the lock now, or undefined outside one:
   * what was read from disk during a step stays true until it ends,
   * since nobody else can write meanwhile.
   */
  get currentStep(): number | undefined {
    return this.held ? this.steps : undefined;
  }

  /** Runs `fn` under the lock; throws RegistryBusy at once if another process holds it. */
  run<T>(fn: () => T): T {
    if (this.held) return fn();
    if (!this.tryLock()) throw this.busy('');
    try {
      return fn();
    } finally {
      flock(this.fd, LOCK_UN);
    }
  }

  /**
   * Runs the synchronous `step` under the lock, waiting for it without
   * blocking (polling, 1 to 20 ms apart) up to `timeoutMs`; then throws
   * RegistryBusy. Anything `step` starts asynchronously runs after the
   * lock is released and takes it again itself.
   */
  async whenFree<T>(step: () => T, options: WaitOptions): Promise<T> {
    if (!this.tryLock()) {
      options.onWait?.();
      const deadline = Date.now() + options.timeoutMs;
      for (let delay = 1; !this.tryLock(); delay = Math.min(delay * 2, 20)) {
        if (Date.now() >= deadline) throw this.busy(` for more than ${options.timeoutMs / 1000} s`);
        await sleep(delay);
      }
    }
    this.steps++;
    this.held = true;
    try {
      return step();
    } finally {
      this.held = false;
      flock(this.fd, LOCK_UN);
    }
  }

  /** For start-up, before anything is served: waits synchronously up to `timeoutMs`. */
  runAtStart<T>(fn: () => T, timeoutMs: number): T {
    const deadline = Date.now() + timeoutMs;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (!this.tryLock()) {
      if (Date.now() >= deadline) throw this.busy(` for more than ${timeoutMs / 1000} s`);
      Atomics.wait(pause, 0, 0, 20);
    }
    try {
      return fn();
    } finally {
      flock(this.fd, LOCK_UN);
    }
  }

  private tryLock(): boolean {
    try {
      flock(this.fd, LOCK_EX | LOCK_NB);
      return true;
    } catch (err) {
      if (err instanceof SystemError && err.errno === Errno.EWOULDBLOCK) return false;
      throw err;
    }
  }

  private busy(howLong: string): RegistryBusy {
    return new RegistryBusy(`the registry lock ${this.file} is held by another process${howLong}; try again later`);
  }
}
