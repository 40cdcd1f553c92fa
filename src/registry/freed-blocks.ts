// When each 64K block was last freed and whose it was, kept apart from
// registry.json: the set grows towards every block of the pool over a long
// uptime, and rewriting it with each snapshot would make compaction pay
// for the whole history. A free travels in the journal line of the change
// that made it (one synced write per change) and is folded into freed.log,
// append-only, when the journal is folded into a snapshot (see store.ts).
// Blocks are recorded in the order they are freed, so insertion order is
// least-recently-freed order.

/**
 * Who last held a freed block: a uid; 'none' for a block the pool skipped
 * without ever handing it out; 'unknown' for a line written before owners
 * were recorded. Files its namespace left behind are owned by its ids, so
 * only a block's last owner may get it again (see chooseBlock).
 */
export type BlockOwner = number | 'none' | 'unknown';

export interface FreedBlock {
  atMs: number;
  owner: BlockOwner;
}

/** In-memory view, ordered least recently freed first. */
export class FreedBlocks {
  /** base → when and whose; Map insertion order is the order of freeing. */
  private readonly order = new Map<number, FreedBlock>();
  /** The same blocks per owner, in the same order: a user's own blocks are found without a scan of the pool. */
  private readonly byOwner = new Map<BlockOwner, Set<number>>();
  /** Lines (without their newline) not yet stored. */
  private pending: string[] = [];
  /** Set by any change; the store clears it when it starts a transaction. */
  touched = false;

  /** Records a free (buffered until the store commits). */
  markFreed(base: number, atMs: number, owner: BlockOwner = 'unknown'): void {
    this.touched = true;
    this.apply(base, atMs, owner);
    this.pending.push(freedLine(base, { atMs, owner }));
  }

  /** Forget a block that was just handed out (memory only: the registry says it is in use). */
  take(base: number): void {
    const old = this.order.get(base);
    if (!old) return;
    this.order.delete(base);
    this.byOwner.get(old.owner)?.delete(base);
    this.touched = true;
  }

  /** The least recently freed block that `usable` accepts, of `owner` only if given. */
  pickLeastRecentlyFreed(usable: (base: number) => boolean, owner?: BlockOwner): number | undefined {
    const bases = owner === undefined ? this.order.keys() : (this.byOwner.get(owner) ?? []);
    for (const base of bases) if (usable(base)) return base;
    return undefined;
  }

  has(base: number): boolean {
    return this.order.has(base);
  }

  ownerOf(base: number): BlockOwner | undefined {
    return this.order.get(base)?.owner;
  }

  get size(): number {
    return this.order.size;
  }

  entries(): Array<[number, FreedBlock]> {
    return [...this.order.entries()];
  }

  /** @internal for the store */
  apply(base: number, atMs: number, owner: BlockOwner): void {
    this.take(base);
    this.order.set(base, { atMs, owner });
    let bases = this.byOwner.get(owner);
    if (!bases) this.byOwner.set(owner, (bases = new Set()));
    bases.add(base);
  }

  /** @internal for the store: the frees made since the last take, as freed.log lines without newlines. */
  takePendingLines(): string[] {
    const lines = this.pending;
    this.pending = [];
    return lines;
  }

  /** The frees made since the last take, as freed.log text. */
  takePending(): string {
    return this.takePendingLines()
      .map((line) => `${line}\n`)
      .join('');
  }

  /** @internal for the store */
  dropPending(): void {
    this.pending = [];
  }
}

/** "BASE AT OWNER", OWNER a uid or "-" for never handed out. */
export function freedLine(base: number, { atMs, owner }: FreedBlock): string {
  if (owner === 'unknown') return `${base} ${atMs}`;
  return `${base} ${atMs} ${owner === 'none' ? '-' : owner}`;
}

/** freedLine with its newline. */
export function formatFreedLine(base: number, block: FreedBlock): string {
  return `${freedLine(base, block)}\n`;
}

/** A line without OWNER (written before owners were recorded) gives 'unknown'. */
const FREED_LINE = /^(\d+) (\d+)(?: (\d+|-))?$/;

export function isFreedLine(line: string): boolean {
  return FREED_LINE.test(line);
}

/** Applies one line; false (and nothing applied) for a line that is not one. */
function applyFreedLine(line: string, into: FreedBlocks): boolean {
  const m = FREED_LINE.exec(line);
  if (!m) return false;
  const owner: BlockOwner = m[3] === undefined ? 'unknown' : m[3] === '-' ? 'none' : Number(m[3]);
  into.apply(Number(m[1]), Number(m[2]), owner);
  return true;
}

/** Applies lines already checked with isFreedLine (the journal's), in order. */
export function applyFreedLines(lines: readonly string[], into: FreedBlocks): void {
  for (const line of lines) applyFreedLine(line, into);
}

/**
 * "BASE AT OWNER" lines of freed.log; returns how many. Anything else (a
 * blank line, a torn last line of a crash mid-append) is skipped.
 */
export function parseFreedLog(text: string, into: FreedBlocks): number {
  let lines = 0;
  for (const line of text.split('\n')) if (applyFreedLine(line, into)) lines++;
  return lines;
}
