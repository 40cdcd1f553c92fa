// What a trusted image held when it was last dissected, kept for a moment
// and only while the file is unchanged. A trusted image is one the
// administrator vouched for (root-owned, not group- or other-writable,
// directly inside an image directory), and machines start many containers
// from one: dissecting it again for every Mount (libblkid reading a few
// hundred KiB) was the largest piece of a root Mount's own CPU.
//
// "Unchanged" is the file's version as fstat shows it, taken before the
// file is read: device, inode, size, mtime and ctime. Any write changes
// ctime (and the query marks it, so even a write in the same clock tick
// gets a new one on file systems with fine-grained timestamps); a version
// taken before a write that races the dissection is never seen again. A
// write that changes no timestamp (a second store to a page already dirty
// through a shared mapping, which only root can make to a trusted image)
// is the same as the image changing between dissection and mount, which
// Mount already allows for (it mounts what polkit was told, and the file
// system driver checks what it finds); the time limit bounds how long
// such a version is trusted. Only files that cannot wait for a server are
// cached: their stat attributes are exact.
import fs from 'node:fs';
import type { DissectedImage } from './dissect';

/** How long a dissection is used, however unchanged the file looks. */
export const TRUSTED_DISSECTION_TTL_MS = 1000;
/** Images remembered at once; a machine mounts from few images at a time. */
export const TRUSTED_DISSECTION_ENTRIES = 16;

export interface TrustedDissectionsOptions {
  ttlMs?: number;
  maxEntries?: number;
  /** Milliseconds on a monotonic clock; tests pass their own. */
  now?: () => number;
}

interface Entry {
  dissected: DissectedImage;
  expires: number;
}

export class TrustedDissections {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: TrustedDissectionsOptions = {}) {
    this.ttlMs = options.ttlMs ?? TRUSTED_DISSECTION_TTL_MS;
    this.maxEntries = options.maxEntries ?? TRUSTED_DISSECTION_ENTRIES;
    this.now = options.now ?? (() => performance.now());
  }

  /** The version of the file behind `fd`: take it before reading the file. */
  versionOf(fd: number): string {
    const st = fs.fstatSync(fd, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  }

  get(version: string): DissectedImage | undefined {
    const entry = this.entries.get(version);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(version);
      return undefined;
    }
    return entry.dissected;
  }

  /** Remembers `dissected` (frozen: every later call shares it) for the file at `version`. */
  remember(version: string, dissected: DissectedImage): DissectedImage {
    const frozen = deepFreeze(dissected);
    this.entries.delete(version);
    this.entries.set(version, { dissected: frozen, expires: this.now() + this.ttlMs });
    // Map keeps insertion order: the first entries are the oldest.
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(key);
    }
    return frozen;
  }

  get size(): number {
    return this.entries.size;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
