// The registry's journal: one line per committed change, appended and
// synced before the reply goes out, so a change costs the bytes of what
// changed, not of the whole registry. The first line names the generation
// of the snapshot (registry.json) it continues; compaction writes a new
// snapshot with the next generation, then a new journal, so a crash in
// between leaves a journal of an older generation, which is ignored.
//
// A change is one line, so it is stored whole or not at all: a last line
// without its newline is a write cut short (crash or full disk) and is not
// part of the registry. Blank lines mean nothing. The blocks a change
// freed travel in its line as freed.log lines ("freed"), so a namespace's
// record goes and its block's history (whose it was) comes in one synced
// write: a crash can never keep the one without the other.
import type { TableOp } from './table';
import type { Scalars } from './state';
import { isFreedLine } from './freed-blocks';

export const JOURNAL_FILE = 'registry.journal';

export interface JournalEntry {
  ops: TableOp[];
  set?: Partial<Scalars>;
  /** Blocks freed, in order, as freed.log lines without newlines; applied before `ops`. */
  freed?: string[];
}

export interface ParsedJournal {
  /** Absent when no complete header line was read (the text started mid-file, or the file is empty). */
  generation?: number;
  entries: JournalEntry[];
  /** Bytes of whole lines: where the next append belongs. */
  wholeBytes: number;
}

export function headerLine(generation: number): string {
  return `${JSON.stringify({ generation })}\n`;
}

export function entryLine(entry: JournalEntry): string {
  return `${JSON.stringify(entry)}\n`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses whole lines of `text`; `withHeader` when it starts at the
 * beginning of the file. `validate` checks a put record of a table and
 * throws on an unknown table. Throws with the line number on damage.
 */
export function parseJournal(
  text: string,
  opts: { withHeader: boolean; firstLine?: number; validate: (table: string, record: unknown, where: string) => void },
): ParsedJournal {
  const end = text.lastIndexOf('\n') + 1;
  const out: ParsedJournal = { entries: [], wholeBytes: Buffer.byteLength(text.slice(0, end)) };
  const lines = text.slice(0, end).split('\n');
  lines.pop();
  let expectHeader = opts.withHeader;
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `journal line ${(opts.firstLine ?? 1) + i}`;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw new Error(`${where} is not JSON`);
    }
    if (expectHeader) {
      if (!isObject(raw) || !Number.isSafeInteger(raw.generation)) throw new Error(`${where}: expected the generation header`);
      out.generation = raw.generation as number;
      expectHeader = false;
      return;
    }
    out.entries.push(validateEntry(raw, where, opts.validate));
  });
  return out;
}

function validateEntry(raw: unknown, where: string, validate: (table: string, record: unknown, where: string) => void): JournalEntry {
  if (!isObject(raw) || !Array.isArray(raw.ops)) throw new Error(`${where} is malformed`);
  for (const op of raw.ops) {
    if (!isObject(op) || typeof op.table !== 'string') throw new Error(`${where} has a malformed change`);
    if ('put' in op) validate(op.table, op.put, where);
    else if (typeof op.delete === 'string') validate(op.table, undefined, where);
    else throw new Error(`${where} has a malformed change`);
  }
  if (raw.set !== undefined) {
    if (!isObject(raw.set) || Object.values(raw.set).some((v) => typeof v !== 'number')) throw new Error(`${where} sets a malformed value`);
  }
  if (raw.freed !== undefined) {
    if (!Array.isArray(raw.freed) || raw.freed.some((line) => typeof line !== 'string' || !isFreedLine(line))) throw new Error(`${where} frees a malformed block`);
  }
  return raw as unknown as JournalEntry;
}
