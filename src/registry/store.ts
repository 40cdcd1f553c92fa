// The registry: read and written only under an exclusive flock on a lock
// file in the state directory, so two daemons sharing a state directory
// never hand out the same block. A change appends one line to
// registry.journal and syncs it; the journal is folded into a new snapshot
// (registry.json, replaced atomically: write, fsync, rename) once it has
// grown well past the registry's size, so a change costs the bytes of
// what changed and compaction costs O(1) per change, amortized. The history
// of freed blocks is an append-only log beside them (freed.log). A free
// travels in the journal line of its change, so a namespace's record goes
// and its block's last owner is kept in one synced write; compaction
// appends the journal's frees to freed.log, synced, before the snapshot
// that no longer replays them replaces the old one. A crash between the
// two only repeats frees already in the log.
import fs from 'node:fs';
import path from 'node:path';
import {
  emptyState,
  validateDocument,
  stateFromDocument,
  documentOf,
  tablesOf,
  scalarsOf,
  NAMESPACES,
  type RegistryState,
  type RegistryDocument,
  type Scalars,
  type NamespaceRecord,
} from './state';
import { applyFreedLines, FreedBlocks } from './freed-blocks';
import { FreedLog } from './freed-log';
import { replaceFile } from './durable-file';
import { sameSignature, signatureOf, statOrNull, type FileSignature } from './file-signature';
import { JOURNAL_FILE, type JournalEntry } from './journal';
import { JournalAhead, JournalFile, RegistryCorrupt } from './journal-file';
import type { Table, TableOp } from './table';
import { RegistryLock, type WaitOptions } from './lock';

export { RegistryCorrupt };

const REGISTRY_FILE = 'registry.json';
const FREED_LOG = 'freed.log';
const LOCK_FILE = 'registry.lock';
/** How long start-up waits for a registry lock another process holds. */
const START_LOCK_TIMEOUT_MS = 30_000;
/** Fold the journal into the snapshot once it holds this many entries more than twice the records. */
const JOURNAL_SLACK = 1024;

export class RegistryStore {
  private readonly file: string;
  private readonly journal: JournalFile;
  private readonly freedLog: FreedLog;
  /** freed.log with the journal's frees applied, less the blocks in use. */
  private freed = new FreedBlocks();
  /** The frees the journal of the current generation carries, in order: what compaction folds into freed.log. */
  private unfolded: string[] = [];
  private lock: RegistryLock | undefined;
  private state: RegistryState = emptyState();
  private snapshot: FileSignature | null = null;
  /** Whether reload() ran: freed.log is read there, even when neither snapshot nor journal exists yet. */
  private loaded = false;
  /** The snapshot's generation: the journal that continues it has the same. */
  private generation = 0;
  /** Journal entries at which the next compaction is tried (raised after a failed one). */
  private compactAt = JOURNAL_SLACK;
  /** The lock step (RegistryLock.currentStep) in which refresh() last read the files. */
  private freshInStep: number | undefined;

  constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, REGISTRY_FILE);
    this.journal = new JournalFile(path.join(stateDir, JOURNAL_FILE), stateDir);
    this.freedLog = new FreedLog(path.join(stateDir, FREED_LOG), stateDir);
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
      const freed = this.freed;
      freed.touched = false;
      try {
        const result = change(this.state, freed);
        const freedLines = freed.takePendingLines();
        const entry = this.pendingEntry(scalarsBefore, freedLines);
        if (entry) this.journal.append(entry, this.generation);
        this.unfolded.push(...freedLines);
        for (const table of tablesOf(this.state)) table.commit();
        this.maybeCompact();
        return result;
      } catch (err) {
        this.freshInStep = undefined;
        for (const table of tablesOf(this.state)) table.rollback();
        Object.assign(this.state, scalarsBefore);
        freed.dropPending();
        // Undoing the freed blocks' order exactly is not worth the code: rebuild it.
        if (freed.touched) this.rebuildFreed();
        throw err;
      }
    });
  }

  private pendingEntry(before: Scalars, freed: string[]): JournalEntry | null {
    const ops: TableOp[] = tablesOf(this.state).flatMap((t) => t.pending());
    const after = scalarsOf(this.state);
    const set: Partial<Scalars> = {};
    for (const key of Object.keys(after) as Array<keyof Scalars>) if (after[key] !== before[key]) set[key] = after[key];
    const hasSet = Object.keys(set).length > 0;
    if (ops.length === 0 && !hasSet && freed.length === 0) return null;
    const entry: JournalEntry = { ops };
    if (hasSet) entry.set = set;
    if (freed.length > 0) entry.freed = freed;
    return entry;
  }

  /** freed.log, the journal's frees and the blocks in use, as reload() leaves them. */
  private rebuildFreed(): void {
    const freed = this.freedLog.load();
    applyFreedLines(this.unfolded, freed);
    for (const n of this.state.namespaces.values()) freed.take(n.base);
    freed.touched = false;
    this.freed = freed;
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
    this.freshInStep = step;
  }

  private refreshRegistry(): void {
    const snapshot = statOrNull(this.file);
    const journal = statOrNull(this.journal.file);
    if (!this.loaded || !sameSignature(this.snapshot, snapshot) || !this.journal.continues(journal)) {
      this.reload(snapshot, journal);
      return;
    }
    if (this.journal.hasNews(journal)) this.readJournalTail(Number(journal!.size));
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
    this.loaded = true;
    this.freed = this.freedLog.load();
    this.unfolded = [];
    this.journal.reset(journalStat);
    if (journalStat) this.readJournalTail(Number(journalStat.size));
    // Blocks in use are not candidates, whatever the freed log says.
    for (const n of this.state.namespaces.values()) this.freed.take(n.base);
    this.freed.touched = false;
  }

  /** Reads and applies the journal from where it was read up to `size`. */
  private readJournalTail(size: number): void {
    for (const entry of this.journal.readTail(size, this.generation, this.file)) this.applyEntry(entry);
  }

  private applyEntry(entry: JournalEntry): void {
    // A change frees before it hands out (a sweep, then the pick), so its frees come first.
    if (entry.freed) {
      applyFreedLines(entry.freed, this.freed);
      this.unfolded.push(...entry.freed);
    }
    const tables = new Map(tablesOf(this.state).map((t) => [t.schema.name, t]));
    for (const op of entry.ops) {
      tables.get(op.table)!.replay(op);
      if (op.table === NAMESPACES.name && 'put' in op) this.freed.take((op.put as NamespaceRecord).base);
    }
    if (entry.set) Object.assign(this.state, entry.set);
  }

  /** Folds the journal into a new snapshot once that is cheap per change; a failure leaves the journal in charge. */
  private maybeCompact(): void {
    const entries = this.journal.entries;
    if (entries < this.compactAt + 2 * (this.state.namespaces.size + this.state.mounts.size)) return;
    const generation = this.generation + 1;
    try {
      // The new snapshot's journal starts empty: the frees the old one carries must be in freed.log first.
      this.freedLog.fold(this.unfolded, this.freed);
      replaceFile(this.file, JSON.stringify(documentOf(this.state, generation)));
    } catch {
      // Full or read-only: the journal still holds everything; try again after as many changes.
      this.compactAt = entries + JOURNAL_SLACK;
      return;
    }
    this.generation = generation;
    this.unfolded = [];
    this.snapshot = signatureOf(fs.statSync(this.file, { bigint: true }));
    this.compactAt = JOURNAL_SLACK;
    // The old journal is now stale; the next append starts the new one. Start it now if possible.
    this.journal.markStale();
    try {
      this.journal.startIfNeeded(this.generation);
    } catch {
      // The next append starts it.
    }
  }
}

export type { Table };
