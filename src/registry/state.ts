// What the state directory remembers across restarts. Everything a caller
// was given that outlives a call is recorded here before the reply goes out.

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

export interface RegistryState {
  version: 1;
  namespaces: NamespaceRecord[];
  mounts: MountRecord[];
  /**
   * Blocks at or above this index have never been handed out. Blocks are
   * taken from here upwards first; freed ones live in freed.log.
   */
  neverUsedFrom: number;
}

export function emptyState(): RegistryState {
  return { version: 1, namespaces: [], mounts: [], neverUsedFrom: 0 };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Throws with a precise reason rather than guessing at a damaged file. */
export function validateState(raw: unknown): RegistryState {
  if (!isObject(raw) || raw.version !== 1) throw new Error('unknown registry version');
  if (!Array.isArray(raw.namespaces) || !Array.isArray(raw.mounts) || typeof raw.neverUsedFrom !== 'number') {
    throw new Error('registry lacks namespaces, mounts or neverUsedFrom');
  }
  raw.namespaces.forEach((n, i) => {
    if (
      !isObject(n) ||
      typeof n.name !== 'string' ||
      typeof n.ownerUid !== 'number' ||
      typeof n.base !== 'number' ||
      typeof n.size !== 'number' ||
      typeof n.namespaceId !== 'string' ||
      !(typeof n.handle === 'string' || n.handle === null)
    ) {
      throw new Error(`registry namespace entry ${i} is malformed`);
    }
  });
  raw.mounts.forEach((m, i) => {
    if (!isObject(m) || typeof m.target !== 'string' || typeof m.ownerUid !== 'number' || typeof m.mountId !== 'string') {
      throw new Error(`registry mount entry ${i} is malformed`);
    }
  });
  return raw as unknown as RegistryState;
}
