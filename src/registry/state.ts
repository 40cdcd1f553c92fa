// What the state directory remembers across restarts. Everything a caller
// was given that outlives a call is recorded here before the reply goes out.
import { Table, type TableSchema } from './table';

export interface NamespaceRecord {
  name: string;
  ownerUid: number;
  base: number;
  size: number;
  /** NS_GET_ID, as a decimal string (64-bit). */
  namespaceId: string;
  /** Encoded namespace file handle; null where the kernel offers none (never reclaimed then). */
  handle: string | null;
  createdUsec: string;
}

export interface MountRecord {
  /** Path of the attachment as the daemon last saw it (reconcile follows renames by mountId). */
  target: string;
  ownerUid: number;
  source: string;
  /** "directory" or "image:<designator>". */
  kind: string;
  /** Unique mount id (STATX_MNT_ID_UNIQUE, never reused; legacy id on kernels before 6.8), decimal string. */
  mountId: string;
  /** The reusable id /proc/PID/mountinfo shows, to find the mount again after a restart. */
  legacyMountId?: number;
  createdUsec: string;
}

/** A namespace is known by its block: a block is never held twice. */
export const namespaceKey = (base: number): string => String(base);

/** A name is one owner's: the uid is digits, so the first "/" ends it. */
export const ownerNameKey = (ownerUid: number, name: string): string => `${ownerUid}/${name}`;

export const NAMESPACES: TableSchema<NamespaceRecord> = {
  name: 'namespaces',
  keyOf: (n) => namespaceKey(n.base),
  indexes: {
    ownerUid: (n) => n.ownerUid,
    namespaceId: (n) => n.namespaceId,
    ownerName: (n) => ownerNameKey(n.ownerUid, n.name),
  },
};

const MOUNTS: TableSchema<MountRecord> = {
  name: 'mounts',
  keyOf: (m) => m.mountId,
  indexes: { ownerUid: (m) => m.ownerUid },
};

/** Numbers kept beside the tables. */
export interface Scalars {
  /**
   * Blocks at or above this index have never been handed out. Blocks are
   * taken from here upwards first; freed ones live in freed.log.
   */
  neverUsedFrom: number;
}

/** The registry in memory: what `RegistryStore.read` and `update` give. */
export interface RegistryState extends Scalars {
  namespaces: Table<NamespaceRecord>;
  mounts: Table<MountRecord>;
}

/** The registry as plain data: the snapshot file's content. */
export interface RegistryDocument extends Scalars {
  version: 1;
  namespaces: NamespaceRecord[];
  mounts: MountRecord[];
  /** Which journal continues this snapshot (absent: 0). */
  generation?: number;
}

export function emptyState(): RegistryState {
  return { namespaces: new Table(NAMESPACES), mounts: new Table(MOUNTS), neverUsedFrom: 0 };
}

export function tablesOf(state: RegistryState): Array<Table<object>> {
  return [state.namespaces, state.mounts] as Array<Table<object>>;
}

export function scalarsOf(state: Scalars): Scalars {
  return { neverUsedFrom: state.neverUsedFrom };
}

export function stateFromDocument(doc: RegistryDocument): RegistryState {
  const state = emptyState();
  for (const n of doc.namespaces) state.namespaces.replay({ table: NAMESPACES.name, put: n });
  for (const m of doc.mounts) state.mounts.replay({ table: MOUNTS.name, put: m });
  state.neverUsedFrom = doc.neverUsedFrom;
  return state;
}

export function documentOf(state: RegistryState, generation: number): RegistryDocument {
  return { version: 1, namespaces: state.namespaces.all(), mounts: state.mounts.all(), ...scalarsOf(state), generation };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateNamespace(n: unknown, where: string): NamespaceRecord {
  if (
    !isObject(n) ||
    typeof n.name !== 'string' ||
    typeof n.ownerUid !== 'number' ||
    typeof n.base !== 'number' ||
    typeof n.size !== 'number' ||
    typeof n.namespaceId !== 'string' ||
    !(typeof n.handle === 'string' || n.handle === null)
  ) {
    throw new Error(`registry namespace ${where} is malformed`);
  }
  return n as unknown as NamespaceRecord;
}

function validateMount(m: unknown, where: string): MountRecord {
  if (!isObject(m) || typeof m.target !== 'string' || typeof m.ownerUid !== 'number' || typeof m.mountId !== 'string') {
    throw new Error(`registry mount ${where} is malformed`);
  }
  return m as unknown as MountRecord;
}

export const VALIDATORS: Record<string, (record: unknown, where: string) => object> = {
  [NAMESPACES.name]: validateNamespace,
  [MOUNTS.name]: validateMount,
};

/** Throws with a precise reason rather than guessing at a damaged file. */
export function validateDocument(raw: unknown): RegistryDocument {
  if (!isObject(raw) || raw.version !== 1) throw new Error('unknown registry version');
  if (!Array.isArray(raw.namespaces) || !Array.isArray(raw.mounts) || typeof raw.neverUsedFrom !== 'number') {
    throw new Error('registry lacks namespaces, mounts or neverUsedFrom');
  }
  if (raw.generation !== undefined && !Number.isSafeInteger(raw.generation)) throw new Error('registry generation is malformed');
  raw.namespaces.forEach((n, i) => validateNamespace(n, `entry ${i}`));
  raw.mounts.forEach((m, i) => validateMount(m, `entry ${i}`));
  return raw as unknown as RegistryDocument;
}
