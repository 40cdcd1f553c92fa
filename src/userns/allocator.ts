// Transient user namespaces with a 64K block each. The registry records
// every block handed out before the fd leaves the daemon; a block returns
// to the pool only once its namespace is provably gone.
import type { Logger } from 'pino';
import type { RegistryStore } from '../registry/store';
import type { FreedBlocks } from '../registry/freed-blocks';
import { namespaceKey, ownerNameKey, type NamespaceRecord, type RegistryState } from '../registry/state';
import { BLOCK_SIZE, blockIndexOf, poolBlockIndices, type PoolRange } from './block';
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
import { PendingChanges, type ChangeListener } from '../events/changes';

export interface AllocatorOptions {
  store: RegistryStore;
  pool: PoolRange;
  quotaPerUid: number;
  /** Hand a block last held by one user to another (off by default: see chooseBlock). */
  reuseAcrossUsers?: boolean;
  /** Written to each new namespace's /proc/PID/setgroups (default "allow"). */
  setgroups?: 'allow' | 'deny';
  exclusions: Exclusions;
  log: Logger;
  now?: () => number;
  /** Told of every namespace allocated and reclaimed, once recorded. */
  changes?: ChangeListener;
}

export interface AllocationRequest {
  ownerUid: number;
  ownerGid: number;
  name: string;
  size: number;
}

export interface Allocation {
  fd: number;
  base: number;
  size: number;
  namespaceId: bigint;
}

type Liveness = 'alive' | 'gone' | 'unknown';

const SWEEP_PER_ALLOCATION = 2;
/**
 * Records of the caller's own checked per allocation, besides the global
 * round. The global round reaches a given record once per (records / 2)
 * allocations, so with thousands of other users' records a caller that
 * closes its namespaces would never get its own blocks back in time: each
 * call would take a never-used block and pay NSS lookups for it (0.37 ms
 * here with "files systemd"), a cost that grew with the registry.
 */
const OWN_SWEEP_PER_ALLOCATION = 2;
/**
 * The kernel frees a user namespace by deferred work some tens of ms after
 * its last reference goes (13-80 ms measured here), and until then it
 * still counts as alive. A client that closes its namespace and asks for
 * the same name again at once (a script, or the README's gdbus line run
 * twice) would be told NameExists. So a clash waits this long, outside the
 * registry lock and without holding up other calls, for the namespace to
 * go; one that is really in use is refused after the wait.
 */
const NAME_RELEASE_WAIT_MS = 250;
const NAME_RELEASE_POLL_MS = 5;

export class UserNamespaceAllocator {
  private readonly now: () => number;
  /** Where the sweep of a few records per allocation goes on from. */
  private sweepIterator: Iterator<NamespaceRecord> | undefined;
  /** The same, per owner, over that owner's records only (dropped once it comes to their end). */
  private readonly ownSweepIterators = new Map<number, Iterator<NamespaceRecord>>();
  readonly reclaimSupported: boolean;
  private readonly pending: PendingChanges;

  constructor(private readonly opts: AllocatorOptions) {
    this.now = opts.now ?? Date.now;
    this.pending = new PendingChanges(opts.changes);
    this.reclaimSupported = namespaceFileHandlesSupported();
    if (!this.reclaimSupported) {
      opts.log.warn('the kernel cannot tell whether a namespace still exists (no nsfs file handles): blocks are never reclaimed');
    }
  }

  async allocate(request: AllocationRequest): Promise<Allocation> {
    try {
      return this.allocateNow(request);
    } catch (err) {
      if (!(err instanceof NameExists)) throw err;
      if (!(await this.nameReleased(request.ownerUid, request.name))) throw err;
    }
    // Anything else (quota, another call taking the name meanwhile) is decided afresh under the lock.
    return this.allocateNow(request);
  }

  /** Waits up to NAME_RELEASE_WAIT_MS for every namespace holding this name to be gone; true once they are. */
  private async nameReleased(ownerUid: number, name: string): Promise<boolean> {
    const deadline = performance.now() + NAME_RELEASE_WAIT_MS;
    const holders = this.opts.store.read().namespaces.where('ownerName', ownerNameKey(ownerUid, name));
    for (;;) {
      const states = holders.map((n) => this.liveness(n));
      if (states.every((state) => state === 'gone')) return true;
      // Without file handles nothing tells us when it goes: do not wait in vain.
      if (states.includes('unknown')) return false;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(NAME_RELEASE_POLL_MS, left)));
    }
  }

  private allocateNow(request: AllocationRequest): Allocation {
    let fd = -1;
    try {
      return this.pending.around(() => this.opts.store.update((state, freed) => {
        this.sweepSome(state, freed);
        this.sweepOwn(state, freed, request.ownerUid);
        this.ensureNameFree(state, freed, request.ownerUid, request.name);
        this.ensureQuota(state, freed, request.ownerUid);
        const base = this.pickBlock(state, freed, request.ownerUid);
        const map = [{ inside: 0, outside: base, count: request.size }];
        fd = this.createNamespace(request.ownerUid, request.ownerGid, map);
        const id = namespaceId(fd);
        let handle: string | null = null;
        if (this.reclaimSupported) handle = encodeHandle(namespaceFileHandle(fd));
        state.namespaces.insert({
          name: request.name,
          ownerUid: request.ownerUid,
          base,
          size: request.size,
          namespaceId: id.toString(),
          handle,
          createdUsec: (BigInt(this.now()) * 1000n).toString(),
        });
        this.pending.add({ kind: 'user-namespace-allocated', ownerUid: request.ownerUid, namespaceId: id.toString() });
        return { fd, base, size: request.size, namespaceId: id };
      }));
    } catch (err) {
      // The registry write failed or a check refused: the namespace dies with its only fd.
      closeQuietly(fd);
      throw err;
    }
  }

  private createNamespace(ownerUid: number, ownerGid: number, map: Array<{ inside: number; outside: number; count: number }>): number {
    try {
      return createUserNamespace({ ownerUid, ownerGid, uidMap: map, gidMap: map, setgroups: this.opts.setgroups });
    } catch (err) {
      // ENOSPC here means the kernel's per-user limit (max_user_namespaces), a quota in all but name.
      if (err instanceof SystemError && err.errno === Errno.ENOSPC) {
        throw new QuotaExceeded('You have reached the system\'s limit on user namespaces. Close some you no longer need and try again.');
      }
      throw err;
    }
  }

  /** The recorded namespaces, without those already gone (the registry forgets them at the next sweep). */
  list(filter: { ownerUid?: number } = {}): NamespaceRecord[] {
    const { namespaces } = this.opts.store.read();
    const records = filter.ownerUid === undefined ? namespaces.all() : namespaces.where('ownerUid', filter.ownerUid);
    return records.filter((n) => this.liveness(n) !== 'gone');
  }

  /** The live allocation this user-namespace fd belongs to, if nsmountd made it. */
  findByNamespaceId(id: bigint): NamespaceRecord | undefined {
    const text = id.toString();
    return this.opts.store.read().namespaces.where('namespaceId', text)[0];
  }

  /** Frees the blocks of every namespace that is gone; returns how many. */
  sweep(): number {
    return this.pending.around(() => this.opts.store.update((state, freed) => this.sweepState(state, freed)));
  }

  /**
   * Checks a few records per allocation, round robin, so a busy daemon
   * keeps its registry as small as its live namespaces between full sweeps
   * (each check costs a few microseconds).
   */
  private sweepSome(state: RegistryState, freed: FreedBlocks): void {
    if (state.namespaces.size === 0) return;
    // Resume after the last record checked, in the table's (insertion) order.
    let iterator = this.sweepIterator;
    const picked: NamespaceRecord[] = [];
    for (let wrapped = false; picked.length < Math.min(SWEEP_PER_ALLOCATION, state.namespaces.size); ) {
      const next = iterator?.next();
      if (!next || next.done) {
        if (wrapped) break;
        wrapped = true;
        iterator = state.namespaces.values();
        continue;
      }
      picked.push(next.value);
    }
    this.sweepIterator = iterator;
    this.sweepRecords(state, freed, picked);
  }

  /**
   * Checks a few of the requester's own records, round robin, so the blocks
   * of namespaces it closed come back to it at the same pace however many
   * records other users hold.
   */
  private sweepOwn(state: RegistryState, freed: FreedBlocks, ownerUid: number): void {
    const picked: NamespaceRecord[] = [];
    const count = Math.min(OWN_SWEEP_PER_ALLOCATION, state.namespaces.countWhere('ownerUid', ownerUid));
    let iterator = this.ownSweepIterators.get(ownerUid);
    for (let wrapped = false; picked.length < count; ) {
      const next = iterator?.next();
      if (!next || next.done) {
        if (wrapped) break;
        wrapped = true;
        iterator = state.namespaces.iterateWhere('ownerUid', ownerUid);
        continue;
      }
      picked.push(next.value);
    }
    if (iterator && count > 0) this.ownSweepIterators.set(ownerUid, iterator);
    else this.ownSweepIterators.delete(ownerUid);
    this.sweepRecords(state, freed, picked);
  }

  private sweepState(state: RegistryState, freed: FreedBlocks, only?: (n: NamespaceRecord) => boolean): number {
    const candidates = only ? state.namespaces.all().filter(only) : state.namespaces.all();
    return this.sweepRecords(state, freed, candidates);
  }

  private sweepRecords(state: RegistryState, freedBlocks: FreedBlocks, candidates: NamespaceRecord[]): number {
    let freed = 0;
    for (const record of candidates) {
      if (this.liveness(record) !== 'gone') continue;
      // A stale iterator may offer a record deleted meanwhile: delete only what is still there.
      if (state.namespaces.get(namespaceKey(record.base)) !== record) continue;
      freedBlocks.markFreed(record.base, this.now(), record.ownerUid);
      state.namespaces.delete(namespaceKey(record.base));
      this.pending.add({ kind: 'user-namespace-reclaimed', ownerUid: record.ownerUid, namespaceId: record.namespaceId });
      freed++;
      this.opts.log.debug({ name: record.name, ownerUid: record.ownerUid, base: record.base }, 'reclaimed block');
    }
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
    const clashing = () => state.namespaces.where('ownerName', ownerNameKey(ownerUid, name));
    if (clashing().length === 0) return;
    this.sweepRecords(state, freed, clashing());
    if (clashing().length > 0) {
      throw new NameExists(`you already have a live user namespace named "${name}"`);
    }
  }

  private ensureQuota(state: RegistryState, freed: FreedBlocks, ownerUid: number): void {
    const count = () => state.namespaces.countWhere('ownerUid', ownerUid);
    if (count() < this.opts.quotaPerUid) return;
    this.sweepRecords(state, freed, state.namespaces.where('ownerUid', ownerUid));
    if (count() >= this.opts.quotaPerUid) {
      throw new QuotaExceeded(`You already have ${count()} user namespaces (quota ${this.opts.quotaPerUid}), the most nsmountd gives one user. Close one you no longer need first.`);
    }
  }

  private pickBlock(state: RegistryState, freed: FreedBlocks, requester: number): number {
    const inUse = (b: number) => state.namespaces.has(namespaceKey(b * BLOCK_SIZE));
    const attempt = () => {
      const now = this.now();
      const listed = this.opts.exclusions.blockedBlocks(now);
      // Looked up only for the candidates the choice gets to, in its order.
      const blocked = { has: (b: number) => listed.has(b) || this.opts.exclusions.knownToNss(b, now) };
      return chooseBlock({
        pool: this.opts.pool,
        requester,
        reuseAcrossUsers: this.opts.reuseAcrossUsers ?? false,
        inUse,
        blocked,
        neverUsedFrom: state.neverUsedFrom,
        leastRecentlyFreed: (usable, owner) => freed.pickLeastRecentlyFreed(usable, owner),
      });
    };
    let choice = attempt();
    if (choice === undefined) {
      this.sweepState(state, freed);
      this.opts.exclusions.invalidate();
      choice = attempt();
    }
    if (choice === undefined) throw this.exhausted(freed, requester, inUse);
    const now = this.now();
    for (const b of choice.skipped) freed.markFreed(b * BLOCK_SIZE, now, 'none');
    state.neverUsedFrom = choice.neverUsedFrom;
    freed.take(choice.base);
    return choice.base;
  }

  /** Says why nothing is left, naming the blocks only other users may have. */
  private exhausted(freed: FreedBlocks, requester: number, inUse: (blockIndex: number) => boolean): RangeExhausted {
    const pool = `${this.opts.pool.first}..${this.opts.pool.last}`;
    const { first, last } = poolBlockIndices(this.opts.pool);
    const blocked = this.opts.exclusions.blockedBlocks(this.now());
    let othersFree = 0;
    for (const [base, { owner }] of freed.entries()) {
      const b = blockIndexOf(base);
      if (b >= first && b <= last && !blocked.has(b) && !inUse(b) && owner !== requester && owner !== 'none') othersFree++;
    }
    if (othersFree === 0 || this.opts.reuseAcrossUsers) {
      return new RangeExhausted(`no free ${BLOCK_SIZE}-id block left in the pool ${pool}`);
    }
    return new RangeExhausted(
      `no block of the pool ${pool} is free for uid ${requester}: the ${othersFree} free ` +
        `block${othersFree === 1 ? ' was' : 's were'} last used by other users, and a block is never handed ` +
        `to another user (files its namespaces left behind would be theirs; pool.reuse_across_users allows it)`,
    );
  }
}
