// Which recorded namespaces are gone, and giving their blocks back. A
// namespace is probed by its nsfs file handle, which opens while it lives
// and fails once it is gone; without handles nothing is ever reclaimed.
import type { Logger } from 'pino';
import type { FreedBlocks } from '../registry/freed-blocks';
import { namespaceKey, type NamespaceRecord, type RegistryState } from '../registry/state';
import { decodeHandle, namespaceAlive, type NamespaceHandle } from '../native/nsfs';
import type { PendingChanges } from '../events/changes';

export type Liveness = 'alive' | 'gone' | 'unknown';

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

export interface SweeperOptions {
  now: () => number;
  log: Logger;
  /** Where reclaimed namespaces are announced once recorded. */
  pending: PendingChanges;
}

export class NamespaceSweeper {
  /** Where the sweep of a few records per allocation goes on from. */
  private iterator: Iterator<NamespaceRecord> | undefined;
  /** The same, per owner, over that owner's records only (dropped once it comes to their end). */
  private readonly ownIterators = new Map<number, Iterator<NamespaceRecord>>();
  /**
   * Records whose namespace was seen gone. A namespace never comes back
   * (its id and handle are never reused), so one verdict lasts: a root
   * ListUserNamespaces no longer probes, after a burst of closed
   * namespaces, every record that waits for a sweep. Keyed by the record
   * object, so a record re-read from disk is probed afresh.
   */
  private readonly seenGone = new WeakSet<NamespaceRecord>();
  /** Each record's handle, decoded once rather than on every probe. */
  private readonly handles = new WeakMap<NamespaceRecord, NamespaceHandle>();

  constructor(private readonly opts: SweeperOptions) {}

  /**
   * The sweep of an allocation: a few records of anyone's and a few of the
   * requester's own. Both rounds walk the table in the same order, so with
   * one busy user they offer the same records: each is probed once.
   */
  beforeAllocation(state: RegistryState, freed: FreedBlocks, ownerUid: number): void {
    const checked = this.some(state, freed);
    this.own(state, freed, ownerUid, checked);
  }

  /**
   * Checks a few records per allocation, round robin, so a busy daemon
   * keeps its registry as small as its live namespaces between full sweeps
   * (each check costs a few microseconds). Returns the records checked.
   */
  some(state: RegistryState, freed: FreedBlocks): NamespaceRecord[] {
    if (state.namespaces.size === 0) return [];
    // Resume after the last record checked, in the table's (insertion) order.
    let iterator = this.iterator;
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
    this.iterator = iterator;
    this.reclaimGone(state, freed, picked);
    return picked;
  }

  /**
   * Checks a few of the requester's own records, round robin, so the blocks
   * of namespaces it closed come back to it at the same pace however many
   * records other users hold.
   */
  own(state: RegistryState, freed: FreedBlocks, ownerUid: number, alreadyChecked: readonly NamespaceRecord[] = []): void {
    const picked: NamespaceRecord[] = [];
    const count = Math.min(OWN_SWEEP_PER_ALLOCATION, state.namespaces.countWhere('ownerUid', ownerUid));
    let iterator = this.ownIterators.get(ownerUid);
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
    if (iterator && count > 0) this.ownIterators.set(ownerUid, iterator);
    else this.ownIterators.delete(ownerUid);
    this.reclaimGone(state, freed, alreadyChecked.length ? picked.filter((r) => !alreadyChecked.includes(r)) : picked);
  }

  /** Frees the blocks of every namespace that is gone. */
  all(state: RegistryState, freed: FreedBlocks, only?: (n: NamespaceRecord) => boolean): number {
    const candidates = only ? state.namespaces.all().filter(only) : state.namespaces.all();
    return this.reclaimGone(state, freed, candidates);
  }

  /** Frees the blocks of those `candidates` whose namespace is gone; returns how many. */
  reclaimGone(state: RegistryState, freedBlocks: FreedBlocks, candidates: NamespaceRecord[]): number {
    let freed = 0;
    for (const record of candidates) {
      if (this.liveness(record) !== 'gone') continue;
      // A stale iterator may offer a record deleted meanwhile: delete only what is still there.
      if (state.namespaces.get(namespaceKey(record.base)) !== record) continue;
      freedBlocks.markFreed(record.base, this.opts.now(), record.ownerUid);
      state.namespaces.delete(namespaceKey(record.base));
      this.opts.pending.add({ kind: 'user-namespace-reclaimed', ownerUid: record.ownerUid, namespaceId: record.namespaceId });
      freed++;
      this.opts.log.debug({ name: record.name, ownerUid: record.ownerUid, base: record.base }, 'reclaimed block');
    }
    return freed;
  }

  liveness(record: NamespaceRecord): Liveness {
    if (!record.handle) return 'unknown';
    if (this.seenGone.has(record)) return 'gone';
    let alive: boolean | undefined;
    try {
      let handle = this.handles.get(record);
      if (!handle) this.handles.set(record, (handle = decodeHandle(record.handle)));
      alive = namespaceAlive(handle);
    } catch (err) {
      this.opts.log.debug({ err, name: record.name, ownerUid: record.ownerUid }, 'namespace liveness probe failed');
      return 'unknown';
    }
    if (alive === false) this.seenGone.add(record);
    return alive === undefined ? 'unknown' : alive ? 'alive' : 'gone';
  }
}
