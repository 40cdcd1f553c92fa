// A bound on how many asynchronous jobs run at once, with the waiting ones
// taken in turn from each queue key rather than in arrival order: one
// user's burst then delays another user's job by one turn per user, not by
// the whole burst.

export class FairGate {
  private running = 0;
  /** Waiting jobs per key; a Map iterates in insertion order, which makes the turns. */
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    let n = 0;
    for (const q of this.waiting.values()) n += q.length;
    return n;
  }

  async run<T>(key: string, job: () => Promise<T>): Promise<T> {
    if (this.running < this.limit && this.waiting.size === 0) {
      this.running++;
    } else {
      // The slot is handed over by release(), already counted.
      await new Promise<void>((resolve) => {
        const q = this.waiting.get(key);
        if (q) q.push(resolve);
        else this.waiting.set(key, [resolve]);
      });
    }
    try {
      return await job();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.entries().next();
    if (next.done) {
      this.running--;
      return;
    }
    const [key, q] = next.value;
    const resolve = q.shift()!;
    // The key goes to the back of the line, behind every other user.
    this.waiting.delete(key);
    if (q.length > 0) this.waiting.set(key, q);
    resolve();
  }
}
