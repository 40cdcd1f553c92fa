// freed.log, the append-only history of freed blocks beside the registry
// (see store.ts). It is read whole when the registry is (re)loaded and
// written only when the journal, which carries each free until then, is
// folded into a snapshot.
import fs from 'node:fs';
import { SystemError } from '../errors';
import { appendDurably, replaceFile } from './durable-file';
import { errnoOf } from './file-signature';
import { FreedBlocks, formatFreedLine, parseFreedLog } from './freed-blocks';

/** Rewrite the freed log once it holds this many times more lines than blocks. */
const COMPACT_FACTOR = 4;

export class FreedLog {
  /** Lines of the file as last read or written here: when a rewrite pays off. */
  private lines = 0;
  /** The file ends in a line cut short (a crash mid-append): appending would complete it into a wrong line, so it is rewritten. */
  private torn = false;

  constructor(
    private readonly file: string,
    private readonly stateDir: string,
  ) {}

  /** The history as stored, least recently freed first; a torn last line is not part of it. */
  load(): FreedBlocks {
    const blocks = new FreedBlocks();
    let text = '';
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const end = text.lastIndexOf('\n') + 1;
    this.lines = parseFreedLog(text.slice(0, end), blocks);
    this.torn = end < text.length;
    return blocks;
  }

  /**
   * Makes `lines` (frees the journal carries, in order) part of the log,
   * synced before returning. `blocks` is the whole history with them, for
   * a rewrite once the log has grown well past it.
   */
  fold(lines: readonly string[], blocks: FreedBlocks): void {
    if (lines.length === 0) return;
    try {
      if (this.torn || this.lines + lines.length > COMPACT_FACTOR * (blocks.size + 256)) {
        this.rewrite(blocks);
        return;
      }
      const text = lines.map((line) => `${line}\n`).join('');
      appendDurably(this.file, text);
    } catch (err) {
      throw new SystemError(errnoOf(err), `writing the registry's freed-block log in ${this.stateDir}`, { task: 'save its records' });
    }
    this.lines += lines.length;
  }

  /**
   * One line per free block, in the same order. Blocks in use were taken
   * out of `blocks` and stay out.
   */
  private rewrite(blocks: FreedBlocks): void {
    const text = blocks
      .entries()
      .map(([base, block]) => formatFreedLine(base, block))
      .join('');
    replaceFile(this.file, text);
    this.torn = false;
    this.lines = blocks.size;
  }
}
