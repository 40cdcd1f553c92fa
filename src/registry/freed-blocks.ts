// When each 64K block was last freed, kept apart from registry.json in an
// append-only log: the set grows towards every block of the pool over a
// long uptime, and rewriting it with each allocation would make every call
// pay for the whole history. Blocks are appended in the order they are
// freed, so insertion order is least-recently-freed order.
import fs from 'node:fs';

/** In-memory view, ordered least recently freed first. */
export class FreedBlocks {
  /** base → freed-at (ms); Map insertion order is the order of freeing. */
  private readonly order = new Map<number, number>();
  private pending: string[] = [];
  /** Set by any change; the store clears it when it starts a transaction. */
  touched = false;

  /** Records a free (buffered until the store commits). */
  markFreed(base: number, atMs: number): void {
    this.touched = true;
    this.apply(base, atMs);
    this.pending.push(`${base} ${atMs}\n`);
  }

  /** Forget a block that was just handed out (memory only: the registry says it is in use). */
  take(base: number): void {
    if (this.order.delete(base)) this.touched = true;
  }

  /** The least recently freed block that `usable` accepts. */
  pickLeastRecentlyFreed(usable: (base: number) => boolean): number | undefined {
    for (const base of this.order.keys()) if (usable(base)) return base;
    return undefined;
  }

  has(base: number): boolean {
    return this.order.has(base);
  }

  get size(): number {
    return this.order.size;
  }

  entries(): Array<[number, number]> {
    return [...this.order.entries()];
  }

  /** @internal for the store */
  apply(base: number, atMs: number): void {
    this.order.delete(base);
    this.order.set(base, atMs);
  }

  /** @internal for the store */
  takePending(): string {
    const text = this.pending.join('');
    this.pending = [];
    return text;
  }

  /** @internal for the store */
  dropPending(): void {
    this.pending = [];
  }
}

/** "BASE AT\n" lines; a torn last line (crash mid-append) is ignored. */
export function parseFreedLog(text: string, into: FreedBlocks): number {
  let lines = 0;
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\d+)$/.exec(line);
    if (!m) continue;
    into.apply(Number(m[1]), Number(m[2]));
    lines++;
  }
  return lines;
}

export function appendDurably(file: string, text: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
