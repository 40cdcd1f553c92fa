// Blocks the pool must never hand out because someone else may already use
// those ids: /etc/subuid and /etc/subgid delegations, users and groups
// known to NSS, and systemd-nsresourced's live allocations.
import fs from 'node:fs';
import path from 'node:path';
import { addRangeBlocks, blockIndexOf, BLOCK_SIZE } from './block';
import { listNssIds } from '../native/nss';

export interface ExclusionSources {
  subidFiles: string[];
  nsresourcedRegistry: string;
  /** How long an NSS enumeration stays fresh. */
  nssTtlMs: number;
  /** How long the subid files and the nsresourced registry stay fresh (default 1 s). */
  filesTtlMs?: number;
  listNssIds: () => { uids: number[]; gids: number[] };
}

export const DEFAULT_EXCLUSION_SOURCES: ExclusionSources = {
  subidFiles: ['/etc/subuid', '/etc/subgid'],
  nsresourcedRegistry: '/run/systemd/nsresource/registry',
  nssTtlMs: 10_000,
  listNssIds,
};

/** "name:start:count" lines; comments and malformed lines are ignored. */
export function parseSubidFile(text: string): Array<{ start: number; count: number }> {
  const ranges: Array<{ start: number; count: number }> = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const parts = trimmed.split(':');
    if (parts.length < 3) continue;
    const start = Number(parts[1]);
    const count = Number(parts[2]);
    if (Number.isSafeInteger(start) && Number.isSafeInteger(count) && start >= 0 && count > 0) ranges.push({ start, count });
  }
  return ranges;
}

/**
 * nsresourced keeps one JSON file per allocation ("i<inode>.userns") with
 * "start" and "size", plus "u<start>.userns" links. A file that cannot be
 * parsed still reserves the block its name gives, so we fail safe.
 */
export function readNsresourcedRegistry(dir: string): Array<{ start: number; count: number }> {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const ranges: Array<{ start: number; count: number }> = [];
  for (const name of names) {
    if (!name.endsWith('.userns')) continue;
    const byName = /^u(\d+)\.userns$/.exec(name);
    try {
      const json = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as { start?: unknown; size?: unknown };
      if (typeof json.start === 'number' && typeof json.size === 'number') {
        ranges.push({ start: json.start, count: json.size });
        continue;
      }
    } catch {
      // fall through to the name
    }
    if (byName) ranges.push({ start: Number(byName[1]), count: BLOCK_SIZE });
  }
  return ranges;
}

export class Exclusions {
  private subidCache = new Map<string, { mtimeMs: number; size: number; blocks: Set<number> }>();
  private nssBlocks: Set<number> | null = null;
  private combined: Set<number> | null = null;
  private combinedAt = 0;
  private combinedNss: Set<number> | null = null;
  private nssFetchedAt = 0;

  constructor(private readonly sources: ExclusionSources = DEFAULT_EXCLUSION_SOURCES) {}

  /**
   * Every block index that must not be allocated right now. The files are
   * looked at again at most once per `filesTtlMs`: a burst of calls should
   * not stat and list them for each allocation.
   */
  blockedBlocks(now = Date.now()): Set<number> {
    if (this.combined && now - this.combinedAt < (this.sources.filesTtlMs ?? 1000) && this.combinedNss === this.nssBlocks) {
      return this.combined;
    }
    const blocked = new Set<number>();
    for (const file of this.sources.subidFiles) for (const b of this.subidBlocks(file)) blocked.add(b);
    const nss = this.nss(now);
    for (const b of nss) blocked.add(b);
    for (const r of readNsresourcedRegistry(this.sources.nsresourcedRegistry)) addRangeBlocks(blocked, r.start, r.count);
    this.combined = blocked;
    this.combinedAt = now;
    this.combinedNss = nss;
    return blocked;
  }

  /** Forget cached data, e.g. before retrying an allocation that found nothing free. */
  invalidate(): void {
    this.nssBlocks = null;
    this.combined = null;
  }

  private subidBlocks(file: string): Set<number> {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      return new Set();
    }
    const cached = this.subidCache.get(file);
    if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.blocks;
    const blocks = new Set<number>();
    for (const r of parseSubidFile(fs.readFileSync(file, 'utf8'))) addRangeBlocks(blocks, r.start, r.count);
    this.subidCache.set(file, { mtimeMs: st.mtimeMs, size: st.size, blocks });
    return blocks;
  }

  private nss(now: number): Set<number> {
    if (this.nssBlocks && now - this.nssFetchedAt < this.sources.nssTtlMs) return this.nssBlocks;
    const { uids, gids } = this.sources.listNssIds();
    const blocks = new Set<number>();
    for (const id of uids) blocks.add(blockIndexOf(id));
    for (const id of gids) blocks.add(blockIndexOf(id));
    this.nssBlocks = blocks;
    this.nssFetchedAt = now;
    return blocks;
  }
}
