// Transient user namespaces with a 64K block each. The registry records
// every block handed out before the fd leaves the daemon; a block returns
// to the pool only once its namespace is provably gone.
import type { Logger } from 'pino';
import type { RegistryStore } from '../registry/store';
import type { FreedBlocks } from '../registry/freed-blocks';
import { ownerNameKey, type NamespaceRecord, type RegistryState } from '../registry/state';
import type { PoolRange } from './block';
import type { Exclusions } from './exclusions';
import { pickBlock } from './pick-block';
import { NamespaceSweeper } from './sweeper';
import { createUserNamespace } from '../native/userns';
import { namespaceId, namespaceFileHandle, encodeHandle, namespaceFileHandlesSupported } from '../native/nsfs';
import { closeQuietly } from '../native/fd';
import { NameExists, QuotaExceeded, SystemError } from '../errors';
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
  readonly reclaimSupported: boolean;
  private readonly pending: PendingChanges;
  private readonly sweeper: NamespaceSweeper;

  constructor(private readonly opts: AllocatorOptions) {
    this.now = opts.now ?? Date.now;
    this.pending = new PendingChanges(opts.changes);
    this.sweeper = new NamespaceSweeper({ now: this.now, log: opts.log, pending: this.pending });
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
      const states = holders.map((n) => this.sweeper.liveness(n));
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
        this.sweeper.beforeAllocation(state, freed, request.ownerUid);
        this.ensureNameFree(state, freed, request.ownerUid, request.name);
        this.ensureQuota(state, freed, request.ownerUid);
        const base = pickBlock(state, freed, request.ownerUid, {
          pool: this.opts.pool,
          exclusions: this.opts.exclusions,
          reuseAcrossUsers: this.opts.reuseAcrossUsers ?? false,
          now: this.now,
          sweepAll: () => this.sweeper.all(state, freed),
        });
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
    return records.filter((n) => this.sweeper.liveness(n) !== 'gone');
  }

  /** The live allocation this user-namespace fd belongs to, if nsmountd made it. */
  findByNamespaceId(id: bigint): NamespaceRecord | undefined {
    const text = id.toString();
    return this.opts.store.read().namespaces.where('namespaceId', text)[0];
  }

  /** Frees the blocks of every namespace that is gone; returns how many. */
  sweep(): number {
    return this.pending.around(() => this.opts.store.update((state, freed) => this.sweeper.all(state, freed)));
  }

  private ensureNameFree(state: RegistryState, freed: FreedBlocks, ownerUid: number, name: string): void {
    const clashing = () => state.namespaces.where('ownerName', ownerNameKey(ownerUid, name));
    if (clashing().length === 0) return;
    this.sweeper.reclaimGone(state, freed, clashing());
    if (clashing().length > 0) {
      throw new NameExists(`you already have a live user namespace named "${name}"`);
    }
  }

  private ensureQuota(state: RegistryState, freed: FreedBlocks, ownerUid: number): void {
    const count = () => state.namespaces.countWhere('ownerUid', ownerUid);
    if (count() < this.opts.quotaPerUid) return;
    this.sweeper.reclaimGone(state, freed, state.namespaces.where('ownerUid', ownerUid));
    if (count() >= this.opts.quotaPerUid) {
      throw new QuotaExceeded(`You already have ${count()} user namespaces (quota ${this.opts.quotaPerUid}), the most nsmountd gives one user. Close one you no longer need first.`);
    }
  }
}
