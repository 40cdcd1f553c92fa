// freed.log, the append-only history of freed blocks beside the registry
// (see store.ts), and what of it has been read into memory.
import fs from 'node:fs';
import { SystemError } from '../errors';
import { appendDurably, replaceFile } from './durable-file';
import { errnoOf, readFrom, statOrNull } from './file-signature';
import { FreedBlocks, formatFreedLine, parseFreedLog } from './freed-blocks';

/** Rewrite the freed log once it holds this many times more lines than blocks. */
const COMPACT_FACTOR = 4;

export class FreedLog {
  blocks = new FreedBlocks();
  /** What of the file is in `blocks`: its inode and how many bytes were read. */
  private read: { ino: bigint; bytes: number; lines: number } | null = null;

  constructor(
    private readonly file: string,
    private readonly stateDir: string,
  ) {}

  /** Drops what was read; the next refresh reads the file again. */
  forget(): void {
    this.blocks = new FreedBlocks();
    this.read = null;
  }

  /** Reads what another writer appended; blocks `inUse` are no candidates, whatever the log says. */
  refresh(inUse: Iterable<{ base: number }>): void {
    const st = statOrNull(this.file);
    if (!st) {
      if (this.read) this.blocks = new FreedBlocks();
      this.read = null;
      return;
    }
    const size = Number(st.size);
    if (this.read && this.read.ino === st.ino && this.read.bytes === size) return;
    let from = 0;
    if (this.read && this.read.ino === st.ino && this.read.bytes < size) {
      from = this.read.bytes;
    } else {
      this.blocks = new FreedBlocks();
      this.read = { ino: st.ino, bytes: 0, lines: 0 };
    }
    const text = readFrom(this.file, from, size);
    // Only whole lines count; a torn tail is re-read once complete.
    const end = text.lastIndexOf('\n') + 1;
    const lines = parseFreedLog(text.slice(0, end), this.blocks);
    this.read = { ino: st.ino, bytes: from + Buffer.byteLength(text.slice(0, end)), lines: (this.read?.lines ?? 0) + lines };
    for (const n of inUse) this.blocks.take(n.base);
    this.blocks.touched = false;
  }

  append(text: string): void {
    try {
      if (this.read && this.read.lines > COMPACT_FACTOR * (this.blocks.size + 256)) {
        this.compact();
        return;
      }
      appendDurably(this.file, text);
    } catch (err) {
      throw new SystemError(errnoOf(err), `writing the registry's freed-block log in ${this.stateDir}`, { task: 'save its records' });
    }
    const st = fs.statSync(this.file, { bigint: true });
    const lines = text.split('\n').length - 1;
    this.read = { ino: st.ino, bytes: Number(st.size), lines: (this.read?.lines ?? 0) + lines };
  }

  /**
   * Rewrites the log with one line per free block, in the same order.
   * `blocks` already holds the pending entries (markFreed applies them);
   * blocks in use were taken out of it and stay out.
   */
  private compact(): void {
    const text = this.blocks
      .entries()
      .map(([base, block]) => formatFreedLine(base, block))
      .join('');
    replaceFile(this.file, text);
    const st = fs.statSync(this.file, { bigint: true });
    this.read = { ino: st.ino, bytes: Number(st.size), lines: this.blocks.size };
  }
}
