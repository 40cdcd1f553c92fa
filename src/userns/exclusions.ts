// Blocks the pool must never hand out because someone else may already use
// those ids: /etc/subuid and /etc/subgid delegations, users and groups
// known to NSS (enumerated, and looked up one by one for sources that do
// not enumerate), and systemd-nsresourced's allocations.
import fs from 'node:fs';
import { addRangeBlocks, blockIndexOf, BLOCK_SIZE } from './block';
import { listNssIds, nssKnowsId } from '../native/nss';
import { readNsresourcedRegistry } from './nsresourced-registry';

export interface ExclusionSources {
  subidFiles: string[];
  nsresourcedRegistry: string;
  /** How long an NSS enumeration stays fresh. */
  nssTtlMs: number;
  /** How long the subid files and the nsresourced registry stay fresh (default 1 s). */
  filesTtlMs?: number;
  listNssIds: () => { uids: number[]; gids: number[] };
  /** getpwuid/getgrgid: true when NSS knows the id; throws when a source cannot answer. */
  nssKnowsId?: (kind: 'uid' | 'gid', id: number) => boolean;
  /** How long the lookups of one block stay fresh (default 60 s). */
  lookupTtlMs?: number;
}

const DEFAULT_EXCLUSION_SOURCES: ExclusionSources = {
  subidFiles: ['/etc/subuid', '/etc/subgid'],
  nsresourcedRegistry: '/run/systemd/nsresource/registry',
  nssTtlMs: 10_000,
  listNssIds,
  nssKnowsId,
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

export class Exclusions {
  private subidCache = new Map<string, { mtimeMs: number; size: number; blocks: Set<number> }>();
  private nssBlocks: Set<number> | null = null;
  private combined: Set<number> | null = null;
  private combinedAt = 0;
  private combinedNss: Set<number> | null = null;
  private nssFetchedAt = 0;
  private readonly lookups = new Map<number, { known: boolean; at: number }>();

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

  /**
   * Whether NSS knows a user or group at the first or last id of the block,
   * asked one id at a time: sssd or LDAP with enumeration off, winbind and
   * mymachines answer these, though they list nobody. Each lookup can cost
   * a round trip (about 0.6 ms here, most of it nss-systemd probing for
   * userdb services), so only the two ends are asked, and the answer is
   * kept for lookupTtlMs. A source that cannot answer throws: no one can
   * tell then whether the ids are free.
   */
  knownToNss(block: number, now = Date.now()): boolean {
    const cached = this.lookups.get(block);
    if (cached && now - cached.at < (this.sources.lookupTtlMs ?? 60_000)) return cached.known;
    const knows = this.sources.nssKnowsId;
    const first = block * BLOCK_SIZE;
    const last = first + BLOCK_SIZE - 1;
    const known = !!knows && [first, last].some((id) => knows('uid', id) || knows('gid', id));
    this.lookups.set(block, { known, at: now });
    return known;
  }

  /** Forget cached data, e.g. before retrying an allocation that found nothing free. */
  invalidate(): void {
    this.nssBlocks = null;
    this.combined = null;
    this.lookups.clear();
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
