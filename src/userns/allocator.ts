// Transient user namespaces with a 64K block each. The registry records
// every block handed out before the fd leaves the daemon; a block returns
// to the pool only once its namespace is provably gone.
import type { Logger } from 'pino';
import type { RegistryStore } from '../registry/store';
import type { FreedBlocks } from '../registry/freed-blocks';
import type { NamespaceRecord, RegistryState } from '../registry/state';
import { BLOCK_SIZE, blockIndexOf, type PoolRange } from './block';
import { chooseBlock } from './choose-block';
import type { Exclusions } from './exclusions';
import { createUserNamespace } from '../native/userns';
import {
  namespaceId,
  namespaceFileHandle,
  namespaceAlive,
  decodeHandle,
  encodeHandle,
  namespaceFileHandlesSupported,
} from '../native/nsfs';
import { closeQuietly } from '../native/fd';
import { NameExists, QuotaExceeded, RangeExhausted, SystemError } from '../errors';
import { Errno } from '../native/errno';

export interface AllocatorOptions {
  store: RegistryStore;
  pool: PoolRange;
  quotaPerUid: number;
  exclusions: Exclusions;
  log: Logger;
  now?: () => number;
}

export interface Allocation {
  fd: number;
  base: number;
  size: number;
  namespaceId: bigint;
}

type Liveness = 'alive' | 'gone' | 'unknown';

const SWEEP_PER_ALLOCATION = 2;

export class UserNamespaceAllocator {
  private readonly now: () => number;
  private sweepCursor = 0;
  readonly reclaimSupported: boolean;

  constructor(private readonly opts: AllocatorOptions) {
    this.now = opts.now ?? Date.now;
    this.reclaimSupported = namespaceFileHandlesSupported();
    if (!this.reclaimSupported) {
      opts.log.warn('the kernel cannot tell whether a namespace still exists (no nsfs file handles): blocks are never reclaimed');
    }
  }

  allocate(request: { ownerUid: number; ownerGid: number; name: string; size: number }): Allocation {
    let fd = -1;
    try {
      return this.opts.store.update((state, freed) => {
        this.sweepSome(state, freed);
        this.ensureNameFree(state, freed, request.ownerUid, request.name);
        this.ensureQuota(state, freed, request.ownerUid);
        const base = this.pickBlock(state, freed);
        const map = [{ inside: 0, outside: base, count: request.size }];
        fd = this.createNamespace(request.ownerUid, request.ownerGid, map);
        const id = namespaceId(fd);
        let handle: string | null = null;
        if (this.reclaimSupported) handle = encodeHandle(namespaceFileHandle(fd));
        state.namespaces.push({
          name: request.name,
          ownerUid: request.ownerUid,
          base,
          size: request.size,
          namespaceId: id.toString(),
          handle,
          createdUsec: (BigInt(this.now()) * 1000n).toString(),
        });
        return { fd, base, size: request.size, namespaceId: id };
      });
    } catch (err) {
      // The registry write failed or a check refused: the namespace dies with its only fd.
      closeQuietly(fd);
      throw err;
    }
  }

  private createNamespace(ownerUid: number, ownerGid: number, map: Array<{ inside: number; outside: number; count: number }>): number {
    try {
      return createUserNamespace({ ownerUid, ownerGid, uidMap: map, gidMap: map });
    } catch (err) {
      // ENOSPC here means the kernel's per-user limit (max_user_namespaces), a quota in all but name.
      if (err instanceof SystemError && err.errno === Errno.ENOSPC) {
        throw new QuotaExceeded(`uid ${ownerUid} has reached the kernel's limit on user namespaces`);
      }
      throw err;
    }
  }

  list(filter: { ownerUid?: number } = {}): NamespaceRecord[] {
    const { namespaces } = this.opts.store.read();
    return filter.ownerUid === undefined ? namespaces : namespaces.filter((n) => n.ownerUid === filter.ownerUid);
  }

  /** The live allocation this user-namespace fd belongs to, if nsmountd made it. */
  findByNamespaceId(id: bigint): NamespaceRecord | undefined {
    const text = id.toString();
    return this.opts.store.read().namespaces.find((n) => n.namespaceId === text);
  }

  /** Frees the blocks of every namespace that is gone; returns how many. */
  sweep(): number {
    return this.opts.store.update((state, freed) => this.sweepState(state, freed));
  }

  /**
   * Checks a few records per allocation, round robin, so a busy daemon
   * keeps its registry as small as its live namespaces between full sweeps
   * (each check costs a few microseconds).
   */
  private sweepSome(state: RegistryState, freed: FreedBlocks): void {
    const count = Math.min(SWEEP_PER_ALLOCATION, state.namespaces.length);
    if (count === 0) return;
    const start = this.sweepCursor % state.namespaces.length;
    const picked = new Set<NamespaceRecord>();
    for (let i = 0; i < count; i++) picked.add(state.namespaces[(start + i) % state.namespaces.length]);
    this.sweepCursor = start + count;
    this.sweepState(state, freed, (n) => picked.has(n));
  }

  private sweepState(state: RegistryState, freedBlocks: FreedBlocks, only?: (n: NamespaceRecord) => boolean): number {
    const keep: NamespaceRecord[] = [];
    let freed = 0;
    for (const record of state.namespaces) {
      if ((!only || only(record)) && this.liveness(record) === 'gone') {
        freedBlocks.markFreed(record.base, this.now());
        freed++;
        this.opts.log.debug({ name: record.name, ownerUid: record.ownerUid, base: record.base }, 'reclaimed block');
      } else {
        keep.push(record);
      }
    }
    state.namespaces = keep;
    return freed;
  }

  private liveness(record: NamespaceRecord): Liveness {
    if (!record.handle) return 'unknown';
    let alive: boolean | undefined;
    try {
      alive = namespaceAlive(decodeHandle(record.handle));
    } catch (err) {
      this.opts.log.debug({ err, name: record.name, ownerUid: record.ownerUid }, 'namespace liveness probe failed');
      return 'unknown';
    }
    return alive === undefined ? 'unknown' : alive ? 'alive' : 'gone';
  }

  private ensureNameFree(state: RegistryState, freed: FreedBlocks, ownerUid: number, name: string): void {
    const clash = (n: NamespaceRecord) => n.ownerUid === ownerUid && n.name === name;
    if (!state.namespaces.some(clash)) return;
    this.sweepState(state, freed, clash);
    if (state.namespaces.some(clash)) {
      throw new NameExists(`you already have a live user namespace named "${name}"`);
    }
  }

  private ensureQuota(state: RegistryState, freed: FreedBlocks, ownerUid: number): void {
    const count = () => state.namespaces.filter((n) => n.ownerUid === ownerUid).length;
    if (count() < this.opts.quotaPerUid) return;
    this.sweepState(state, freed, (n) => n.ownerUid === ownerUid);
    if (count() >= this.opts.quotaPerUid) {
      throw new QuotaExceeded(`uid ${ownerUid} already has ${count()} live user namespaces (quota ${this.opts.quotaPerUid})`);
    }
  }

  private pickBlock(state: RegistryState, freed: FreedBlocks): number {
    const attempt = () => {
      const inUse = new Set(state.namespaces.map((n) => blockIndexOf(n.base)));
      return chooseBlock({
        pool: this.opts.pool,
        inUse: (b) => inUse.has(b),
        blocked: this.opts.exclusions.blockedBlocks(this.now()),
        neverUsedFrom: state.neverUsedFrom,
        leastRecentlyFreed: (usable) => freed.pickLeastRecentlyFreed(usable),
      });
    };
    let choice = attempt();
    if (choice === undefined) {
      this.sweepState(state, freed);
      this.opts.exclusions.invalidate();
      choice = attempt();
    }
    if (choice === undefined) {
      throw new RangeExhausted(
        `no free ${BLOCK_SIZE}-id block left in the pool ${this.opts.pool.first}..${this.opts.pool.last}`,
      );
    }
    const now = this.now();
    for (const b of choice.skipped) freed.markFreed(b * BLOCK_SIZE, now);
    state.neverUsedFrom = choice.neverUsedFrom;
    freed.take(choice.base);
    return choice.base;
  }
}
