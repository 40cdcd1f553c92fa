// registry.journal on disk (the format is in journal.ts): what of it has
// been read, reading what another writer appended, and appending a change.
import fs from 'node:fs';
import { SystemError } from '../errors';
import { replaceFile, writeAll } from './durable-file';
import { errnoOf, readFrom } from './file-signature';
import { entryLine, headerLine, parseJournal, type JournalEntry } from './journal';
import { VALIDATORS } from './state';

export class RegistryCorrupt extends Error {}
/** The journal continues a newer snapshot than the one read. */
export class JournalAhead extends RegistryCorrupt {}

interface JournalView {
  ino: bigint;
  /** Bytes of whole lines read and applied (or skipped as stale). */
  wholeBytes: number;
  /** The file size last seen, torn tail included. */
  size: number;
  /** The generation in its header; a journal older than the snapshot is stale. */
  generation: number;
  entries: number;
  lines: number;
}

export class JournalFile {
  private view: JournalView | null = null;

  constructor(
    readonly file: string,
    private readonly stateDir: string,
  ) {}

  /** Entries of the current generation read or appended so far. */
  get entries(): number {
    return this.view?.entries ?? 0;
  }

  /** Whether the journal on disk is the one read so far, at most grown. */
  continues(st: fs.BigIntStats | null): boolean {
    if (!st || !this.view) return st === null && this.view === null;
    return st.ino === this.view.ino && Number(st.size) >= this.view.wholeBytes;
  }

  /** Whether the file (as `st` shows it) has bytes not read yet, or lost some. */
  hasNews(st: fs.BigIntStats | null): boolean {
    return st !== null && this.view !== null && Number(st.size) !== this.view.size;
  }

  /** Forgets what was read: nothing of the file at `st` is read yet (no journal when null). */
  reset(st: fs.BigIntStats | null): void {
    this.view = st && { ino: st.ino, wholeBytes: 0, size: 0, generation: -1, entries: 0, lines: 0 };
  }

  /**
   * Reads from where it was read up to `size`; returns the entries that
   * continue the snapshot of `generation` (`snapshotFile`), none for a
   * stale journal. A torn last line is left for the next read.
   */
  readTail(size: number, generation: number, snapshotFile: string): JournalEntry[] {
    const view = this.view!;
    const fromStart = view.wholeBytes === 0;
    let parsed;
    try {
      const text = readFrom(this.file, view.wholeBytes, size);
      parsed = parseJournal(text, { withHeader: fromStart, firstLine: view.lines + 1, validate: validateOp });
    } catch (err) {
      throw new RegistryCorrupt(`${this.file}: ${(err as Error).message}; refusing to guess (move it aside to start afresh)`);
    }
    if (fromStart) {
      if (parsed.generation === undefined) {
        // Nothing whole yet: an empty file, or a header cut short.
        view.size = size;
        return [];
      }
      if (parsed.generation > generation) {
        throw new JournalAhead(`${this.file} continues generation ${parsed.generation} but ${snapshotFile} is generation ${generation}`);
      }
      view.generation = parsed.generation;
    }
    view.wholeBytes += parsed.wholeBytes;
    view.size = size;
    view.lines += parsed.entries.length;
    // A journal older than the snapshot was folded into it already.
    if (view.generation !== generation) return [];
    view.entries += parsed.entries.length;
    return parsed.entries;
  }

  /** Appends and syncs one change to the journal continuing the snapshot of `generation`. */
  append(entry: JournalEntry, generation: number): void {
    let fd = -1;
    let from = -1;
    try {
      this.startIfNeeded(generation);
      const view = this.view!;
      // Opened per change, as a path: a state directory gone read-only (or
      // covered by a read-only bind) refuses it. libuv opens with O_CLOEXEC.
      // Not O_APPEND: the line goes where the last whole line ends.
      fd = fs.openSync(this.file, fs.constants.O_WRONLY);
      if (fs.fstatSync(fd, { bigint: true }).ino !== view.ino) throw new Error('the journal was replaced under the lock');
      if (view.size !== view.wholeBytes) fs.ftruncateSync(fd, view.wholeBytes);
      from = view.wholeBytes;
      const size = from + writeAll(fd, entryLine(entry), from);
      fs.fdatasyncSync(fd);
      Object.assign(view, { wholeBytes: size, size, entries: view.entries + 1, lines: view.lines + 1 });
    } catch (err) {
      if (from >= 0) {
        // Cut off whatever part of the line made it, so the journal is what it was.
        try {
          fs.ftruncateSync(fd, from);
        } catch {
          // Then the next reader takes the partial last line for what it is: not stored.
        }
        // Re-read from the last whole line at the next access.
        this.view!.size = -1;
      }
      throw new SystemError(errnoOf(err), `writing the registry journal in ${this.stateDir}`, { task: 'save its records' });
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }

  /** Starts a fresh journal if there is none continuing the snapshot of `generation`. */
  startIfNeeded(generation: number): void {
    if (this.view && this.view.generation === generation) return;
    replaceFile(this.file, headerLine(generation));
    const st = fs.statSync(this.file, { bigint: true });
    const bytes = Number(st.size);
    this.view = { ino: st.ino, wholeBytes: bytes, size: bytes, generation, entries: 0, lines: 0 };
  }

  /** The snapshot now holds everything: the next append starts a new journal. */
  markStale(): void {
    if (this.view) this.view.generation = -1;
  }
}

function validateOp(table: string, record: unknown, where: string): void {
  const validate = VALIDATORS[table];
  if (!validate) throw new Error(`${where} changes an unknown table ${table}`);
  if (record !== undefined) validate(record, where);
}
