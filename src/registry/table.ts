// One kind of registry record, keyed, with secondary indexes, so lookups
// cost the same with ten records or ten thousand. Every change is recorded
// as a generic put or delete of a whole record: the journal persists those
// without knowing the fields, and a change that fails is undone from them.

/** A change as the journal stores it. */
export type TableOp = { table: string; put: object } | { table: string; delete: string };

export interface TableSchema<R extends object> {
  name: string;
  keyOf: (record: R) => string;
  /** Secondary indexes by name; several records may share a value. */
  indexes?: Record<string, (record: R) => string | number>;
}

interface Undo {
  key: string;
  previous: object | undefined;
}

export class Table<R extends object> {
  private readonly records = new Map<string, R>();
  private readonly indexes = new Map<string, { of: (record: R) => string | number; keys: Map<string | number, Set<string>> }>();
  /** Changes since the last commit or rollback, oldest first. */
  private ops: TableOp[] = [];
  private undo: Undo[] = [];

  constructor(readonly schema: TableSchema<R>) {
    for (const [name, of] of Object.entries(schema.indexes ?? {})) this.indexes.set(name, { of, keys: new Map() });
  }

  get size(): number {
    return this.records.size;
  }

  get(key: string): R | undefined {
    return this.records.get(key);
  }

  has(key: string): boolean {
    return this.records.has(key);
  }

  /** In insertion order (a replaced record keeps its place). */
  values(): IterableIterator<R> {
    return this.records.values();
  }

  all(): R[] {
    return [...this.records.values()];
  }

  /** Records whose index `name` has `value`, without scanning the others. */
  where(name: string, value: string | number): R[] {
    const keys = this.index(name).keys.get(value);
    if (!keys) return [];
    const out: R[] = [];
    for (const key of keys) out.push(this.records.get(key)!);
    return out;
  }

  /** How many records index `name` has at `value`, without listing them. */
  countWhere(name: string, value: string | number): number {
    return this.index(name).keys.get(value)?.size ?? 0;
  }

  /**
   * The same records as `where`, lazily, oldest first. Like a Map's, the
   * iterator stays valid while records change: it skips those deleted and
   * reaches those added before it ends.
   */
  *iterateWhere(name: string, value: string | number): IterableIterator<R> {
    const keys = this.index(name).keys.get(value);
    if (!keys) return;
    for (const key of keys) yield this.records.get(key)!;
  }

  private index(name: string): { of: (record: R) => string | number; keys: Map<string | number, Set<string>> } {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`table ${this.schema.name} has no index ${name}`);
    return index;
  }

  /** Adds a record whose key must be new: two records never share a key by accident. */
  insert(record: R): void {
    const key = this.schema.keyOf(record);
    if (this.records.has(key)) throw new Error(`registry ${this.schema.name}: ${key} is already recorded`);
    this.put(record);
  }

  /** Adds or replaces a record. Records are immutable once stored: replace, never edit in place. */
  put(record: R): void {
    const key = this.schema.keyOf(record);
    this.undo.push({ key, previous: this.records.get(key) });
    this.ops.push({ table: this.schema.name, put: record });
    this.apply(key, record);
  }

  /** Returns whether there was such a record. */
  delete(key: string): boolean {
    const previous = this.records.get(key);
    if (!previous) return false;
    this.undo.push({ key, previous });
    this.ops.push({ table: this.schema.name, delete: key });
    this.apply(key, undefined);
    return true;
  }

  /** Deletes every record `predicate` accepts; returns those deleted. */
  deleteWhere(predicate: (record: R) => boolean): R[] {
    const gone: R[] = [];
    for (const [key, record] of this.records) {
      if (predicate(record)) {
        gone.push(record);
        this.delete(key);
      }
    }
    return gone;
  }

  /** @internal for the store: the changes since the last commit or rollback. */
  pending(): readonly TableOp[] {
    return this.ops;
  }

  /** @internal for the store: the pending changes are durable; forget how to undo them. */
  commit(): void {
    this.ops = [];
    this.undo = [];
  }

  /** @internal for the store: undoes every change since the last commit. */
  rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const { key, previous } = this.undo[i];
      this.apply(key, previous as R | undefined);
    }
    this.ops = [];
    this.undo = [];
  }

  /** @internal for the store: replays a stored change, recording nothing. */
  replay(op: TableOp): void {
    if ('put' in op) this.apply(this.schema.keyOf(op.put as R), op.put as R);
    else this.apply(op.delete, undefined);
  }

  private apply(key: string, record: R | undefined): void {
    const old = this.records.get(key);
    if (old) for (const index of this.indexes.values()) removeFromIndex(index.keys, index.of(old), key);
    if (record === undefined) {
      this.records.delete(key);
      return;
    }
    this.records.set(key, record);
    for (const index of this.indexes.values()) {
      const value = index.of(record);
      let keys = index.keys.get(value);
      if (!keys) index.keys.set(value, (keys = new Set()));
      keys.add(key);
    }
  }
}

function removeFromIndex(keys: Map<string | number, Set<string>>, value: string | number, key: string): void {
  const set = keys.get(value);
  if (!set) return;
  set.delete(key);
  if (set.size === 0) keys.delete(value);
}
