// The registry: read and written only under an exclusive flock on a lock
// file in the state directory, so two daemons sharing a state directory
// never hand out the same block. A change appends one line to
// registry.journal and syncs it; the journal is folded into a new snapshot
// (registry.json, replaced atomically: write, fsync, rename) once it has
// grown well past the registry's size, so a change costs the bytes of
// what changed and compaction costs O(1) per change, amortized. The history
// of freed blocks is an append-only log beside them, written before the
// journal so a crash in between can only keep a block busy, never hand it
// out twice.
import fs from 'node:fs';
import path from 'node:path';
import {
  emptyState,
  validateDocument,
  stateFromDocument,
  documentOf,
  tablesOf,
  scalarsOf,
  VALIDATORS,
  NAMESPACES,
  type RegistryState,
  type RegistryDocument,
  type Scalars,
  type NamespaceRecord,
} from './state';
import { FreedBlocks, parseFreedLog, formatFreedLine } from './freed-blocks';
import { appendDurably, replaceFile, writeAll } from './durable-file';
import { JOURNAL_FILE, entryLine, headerLine, parseJournal, type JournalEntry } from './journal';
import type { Table, TableOp } from './table';
import { RegistryLock, type WaitOptions } from './lock';
import { SystemError } from '../errors';
import { Errno } from '../native/errno';

const REGISTRY_FILE = 'registry.json';
const FREED_LOG = 'freed.log';
const LOCK_FILE = 'registry.lock';
/** How long start-up waits for a registry lock another process holds. */
const START_LOCK_TIMEOUT_MS = 30_000;
/** Rewrite the freed log once it holds this many times more lines than blocks. */
const COMPACT_FACTOR = 4;
/** Fold the journal into the snapshot once it holds this many entries more than twice the records. */
const JOURNAL_SLACK = 1024;

interface FileSignature {
  ino: bigint;
  mtimeNs: bigint;
  size: bigint;
}

export class RegistryCorrupt extends Error {}
/** The journal continues a newer snapshot than the one read. */
class JournalAhead extends RegistryCorrupt {}

function errnoOf(err: unknown): number {
  const e = err as NodeJS.ErrnoException;
  const code = e.code ? (Errno as Record<string, number>)[e.code] : undefined;
  return code ?? (typeof e.errno === 'number' ? Math.abs(e.errno) : 5);
}

// Runs on every registry read, and the snapshot and freed log are often
// missing: an ENOENT exception (stack trace included) cost more than the stat.
function statOrNull(file: string): fs.BigIntStats | null {
  return fs.statSync(file, { bigint: true, throwIfNoEntry: false }) ?? null;
}

function sameSignature(a: FileSignature | null, b: fs.BigIntStats | null): boolean {
  if (!a || !b) return a === null && b === null;
  return a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.size === b.size;
}

function signatureOf(st: fs.BigIntStats | null): FileSignature | null {
  return st && { ino: st.ino, mtimeNs: st.mtimeNs, size: st.size };
}

function readFrom(file: string, from: number, to: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(to - from);
    const n = fs.readSync(fd, buffer, 0, buffer.length, from);
    return buffer.subarray(0, n).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

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

export class RegistryStore {
  private readonly file: string;
  private readonly journalFile: string;
  private readonly freedFile: string;
  private lock: RegistryLock | undefined;
  private state: RegistryState = emptyState();
  private snapshot: FileSignature | null = null;
  /** The snapshot's generation: the journal that continues it has the same. */
  private generation = 0;
  private journal: JournalView | null = null;
  /** Journal entries at which the next compaction is tried (raised after a failed one). */
  private compactAt = JOURNAL_SLACK;
  private freed = new FreedBlocks();
  /** What of freed.log is in `freed`: its inode and how many bytes were read. */
  private freedRead: { ino: bigint; bytes: number; lines: number } | null = null;
  /** The lock step (RegistryLock.currentStep) in which refresh() last read the files. */
  private freshInStep: number | undefined;

  constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, REGISTRY_FILE);
    this.journalFile = path.join(stateDir, JOURNAL_FILE);
    this.freedFile = path.join(stateDir, FREED_LOG);
  }

  /** Creates the state directory if needed and loads the registry; throws RegistryCorrupt on a damaged file. */
  open(): void {
    fs.mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    this.lock = new RegistryLock(path.join(this.stateDir, LOCK_FILE));
    this.lock.runAtStart(() => this.refresh(), START_LOCK_TIMEOUT_MS);
  }

  close(): void {
    this.lock?.close();
    this.lock = undefined;
  }

  /**
   * Runs a synchronous step that may use the registry once the lock is
   * free, waiting without blocking the event loop (see RegistryLock).
   */
  whenFree<T>(step: () => T, options: WaitOptions): Promise<T> {
    if (!this.lock) throw new Error('registry is not open');
    return this.lock.whenFree(step, options);
  }

  /** The registry as stored, read without the lock: for inspecting a state directory (tests, tools). */
  static readDocument(stateDir: string): RegistryDocument {
    for (let attempt = 1; ; attempt++) {
      const store = new RegistryStore(stateDir);
      try {
        store.refreshRegistry();
        return documentOf(store.state, store.generation);
      } catch (err) {
        // A compaction between reading the snapshot and the journal: read both again.
        if (!(err instanceof JournalAhead) || attempt >= 5) throw err;
      }
    }
  }

  /** The current state; treat it as read-only (it is the cache itself). */
  read(): RegistryState {
    return this.withLock(() => {
      this.refresh();
      return this.state;
    });
  }

  /**
   * Runs `change` on the freshest state and makes the result durable before
   * returning. If `change` throws or a write fails, nothing is stored and
   * the state is as before.
   */
  update<T>(change: (state: RegistryState, freed: FreedBlocks) => T): T {
    return this.withLock(() => {
      this.refresh();
      const scalarsBefore = scalarsOf(this.state);
      this.freed.touched = false;
      try {
        const result = change(this.state, this.freed);
        const entry = this.pendingEntry(scalarsBefore);
        const freedText = this.freed.takePending();
        if (freedText) this.appendFreed(freedText);
        if (entry) this.appendJournal(entry);
        for (const table of tablesOf(this.state)) table.commit();
        this.maybeCompact();
        return result;
      } catch (err) {
        this.freshInStep = undefined;
        for (const table of tablesOf(this.state)) table.rollback();
        Object.assign(this.state, scalarsBefore);
        this.freed.dropPending();
        // Undoing the freed blocks' order exactly is not worth the code: re-read it.
        if (this.freed.touched) this.forgetFreed();
        throw err;
      }
    });
  }

  private pendingEntry(before: Scalars): JournalEntry | null {
    const ops: TableOp[] = tablesOf(this.state).flatMap((t) => t.pending());
    const after = scalarsOf(this.state);
    const set: Partial<Scalars> = {};
    for (const key of Object.keys(after) as Array<keyof Scalars>) if (after[key] !== before[key]) set[key] = after[key];
    const hasSet = Object.keys(set).length > 0;
    if (ops.length === 0 && !hasSet) return null;
    return hasSet ? { ops, set } : { ops };
  }

  private withLock<T>(fn: () => T): T {
    if (!this.lock) throw new Error('registry is not open');
    return this.lock.run(fn);
  }

  /**
   * Re-reads only what another writer changed, and only once per step
   * holding the lock: a call reads the registry several times (ListMounts
   * checks its records, then lists them), and each check costs 3 stats.
   */
  private refresh(): void {
    const step = this.lock?.currentStep;
    if (step !== undefined && step === this.freshInStep) return;
    this.refreshRegistry();
    this.refreshFreed();
    this.freshInStep = step;
  }

  private refreshRegistry(): void {
    const snapshot = statOrNull(this.file);
    const journal = statOrNull(this.journalFile);
    if (!sameSignature(this.snapshot, snapshot) || !this.journalContinues(journal)) {
      this.reload(snapshot, journal);
      return;
    }
    if (journal && this.journal && Number(journal.size) !== this.journal.size) this.readJournalTail(Number(journal.size));
  }

  /** Whether the journal on disk is the one read so far, at most grown. */
  private journalContinues(st: fs.BigIntStats | null): boolean {
    if (!st || !this.journal) return st === null && this.journal === null;
    return st.ino === this.journal.ino && Number(st.size) >= this.journal.wholeBytes;
  }

  private reload(snapshotStat: fs.BigIntStats | null, journalStat: fs.BigIntStats | null): void {
    try {
      const doc = snapshotStat ? validateDocument(JSON.parse(fs.readFileSync(this.file, 'utf8'))) : null;
      this.state = doc ? stateFromDocument(doc) : emptyState();
      this.generation = doc?.generation ?? 0;
    } catch (err) {
      throw new RegistryCorrupt(`${this.file}: ${(err as Error).message}; refusing to guess (move it aside to start afresh)`);
    }
    this.snapshot = signatureOf(snapshotStat);
    this.journal = null;
    if (journalStat) {
      this.journal = { ino: journalStat.ino, wholeBytes: 0, size: 0, generation: -1, entries: 0, lines: 0 };
      this.readJournalTail(Number(journalStat.size));
    }
    // Blocks in use are not candidates, whatever the freed log says.
    for (const n of this.state.namespaces.values()) this.freed.take(n.base);
    this.freed.touched = false;
  }

  /** Reads and applies the journal from where it was read up to `size`. */
  private readJournalTail(size: number): void {
    const view = this.journal!;
    const fromStart = view.wholeBytes === 0;
    let parsed;
    try {
      const text = readFrom(this.journalFile, view.wholeBytes, size);
      parsed = parseJournal(text, { withHeader: fromStart, firstLine: view.lines + 1, validate: validateOp });
    } catch (err) {
      throw new RegistryCorrupt(`${this.journalFile}: ${(err as Error).message}; refusing to guess (move it aside to start afresh)`);
    }
    if (fromStart) {
      if (parsed.generation === undefined) {
        // Nothing whole yet: an empty file, or a header cut short.
        view.size = size;
        return;
      }
      if (parsed.generation > this.generation) {
        throw new JournalAhead(`${this.journalFile} continues generation ${parsed.generation} but ${this.file} is generation ${this.generation}`);
      }
      view.generation = parsed.generation;
    }
    view.wholeBytes += parsed.wholeBytes;
    view.size = size;
    view.lines += parsed.entries.length;
    // A journal older than the snapshot was folded into it already.
    if (view.generation !== this.generation) return;
    view.entries += parsed.entries.length;
    for (const entry of parsed.entries) this.applyEntry(entry);
  }

  private applyEntry(entry: JournalEntry): void {
    const tables = new Map(tablesOf(this.state).map((t) => [t.schema.name, t]));
    for (const op of entry.ops) {
      tables.get(op.table)!.replay(op);
      if (op.table === NAMESPACES.name && 'put' in op) this.freed.take((op.put as NamespaceRecord).base);
    }
    if (entry.set) Object.assign(this.state, entry.set);
  }

  private appendJournal(entry: JournalEntry): void {
    let fd = -1;
    let from = -1;
    try {
      this.startJournalIfNeeded();
      const view = this.journal!;
      // Opened per change, as a path: a state directory gone read-only (or
      // covered by a read-only bind) refuses it. libuv opens with O_CLOEXEC.
      // Not O_APPEND: the line goes where the last whole line ends.
      fd = fs.openSync(this.journalFile, fs.constants.O_WRONLY);
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
        this.journal!.size = -1;
      }
      throw new SystemError(errnoOf(err), `writing the registry journal in ${this.stateDir}`, { task: 'save its records' });
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }

  /** Starts a fresh journal if there is none continuing the current snapshot. */
  private startJournalIfNeeded(): void {
    if (this.journal && this.journal.generation === this.generation) return;
    replaceFile(this.journalFile, headerLine(this.generation));
    const st = fs.statSync(this.journalFile, { bigint: true });
    const bytes = Number(st.size);
    this.journal = { ino: st.ino, wholeBytes: bytes, size: bytes, generation: this.generation, entries: 0, lines: 0 };
  }

  private forgetFreed(): void {
    this.freed = new FreedBlocks();
    this.freedRead = null;
  }

  /** Folds the journal into a new snapshot once that is cheap per change; a failure leaves the journal in charge. */
  private maybeCompact(): void {
    const view = this.journal;
    if (!view || view.entries < this.compactAt + 2 * (this.state.namespaces.size + this.state.mounts.size)) return;
    const generation = this.generation + 1;
    try {
      replaceFile(this.file, JSON.stringify(documentOf(this.state, generation)));
    } catch {
      // Full or read-only: the journal still holds everything; try again after as many changes.
      this.compactAt = view.entries + JOURNAL_SLACK;
      return;
    }
    this.generation = generation;
    this.snapshot = signatureOf(fs.statSync(this.file, { bigint: true }));
    this.compactAt = JOURNAL_SLACK;
    // The old journal is now stale; the next append starts the new one. Start it now if possible.
    this.journal!.generation = -1;
    try {
      this.startJournalIfNeeded();
    } catch {
      // The next append starts it.
    }
  }

  private refreshFreed(): void {
    const st = statOrNull(this.freedFile);
    if (!st) {
      if (this.freedRead) this.freed = new FreedBlocks();
      this.freedRead = null;
      return;
    }
    const size = Number(st.size);
    if (this.freedRead && this.freedRead.ino === st.ino && this.freedRead.bytes === size) return;
    let from = 0;
    if (this.freedRead && this.freedRead.ino === st.ino && this.freedRead.bytes < size) {
      from = this.freedRead.bytes;
    } else {
      this.freed = new FreedBlocks();
      this.freedRead = { ino: st.ino, bytes: 0, lines: 0 };
    }
    const text = readFrom(this.freedFile, from, size);
    // Only whole lines count; a torn tail is re-read once complete.
    const end = text.lastIndexOf('\n') + 1;
    const lines = parseFreedLog(text.slice(0, end), this.freed);
    this.freedRead = { ino: st.ino, bytes: from + Buffer.byteLength(text.slice(0, end)), lines: (this.freedRead?.lines ?? 0) + lines };
    for (const n of this.state.namespaces.values()) this.freed.take(n.base);
    this.freed.touched = false;
  }

  private appendFreed(text: string): void {
    try {
      if (this.freedRead && this.freedRead.lines > COMPACT_FACTOR * (this.freed.size + 256)) {
        this.compactFreed();
        return;
      }
      appendDurably(this.freedFile, text);
    } catch (err) {
      throw new SystemError(errnoOf(err), `writing the registry's freed-block log in ${this.stateDir}`, { task: 'save its records' });
    }
    const st = fs.statSync(this.freedFile, { bigint: true });
    const lines = text.split('\n').length - 1;
    this.freedRead = { ino: st.ino, bytes: Number(st.size), lines: (this.freedRead?.lines ?? 0) + lines };
  }

  /**
   * Rewrites the log with one line per free block, in the same order.
   * `freed` already holds the pending entries (markFreed applies them);
   * blocks in use were taken out of it and stay out.
   */
  private compactFreed(): void {
    const text = this.freed
      .entries()
      .map(([base, block]) => formatFreedLine(base, block))
      .join('');
    replaceFile(this.freedFile, text);
    const st = fs.statSync(this.freedFile, { bigint: true });
    this.freedRead = { ino: st.ino, bytes: Number(st.size), lines: this.freed.size };
  }
}

function validateOp(table: string, record: unknown, where: string): void {
  const validate = VALIDATORS[table];
  if (!validate) throw new Error(`${where} changes an unknown table ${table}`);
  if (record !== undefined) validate(record, where);
}

export type { Table };
