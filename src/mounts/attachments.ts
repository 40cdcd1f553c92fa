// Mounts nsmountd attached for callers (IdmapDirectory's and Mount's
// AttachTo). Each one is in the registry before it is attached, so Unmount
// can tell ours from anything else and a restarted daemon still knows them,
// even one killed mid-call. A detached mount fd handed to a caller is not
// recorded: it dies with its last fd.
//
// Records are keyed by the mount's unique id, never by its path: renaming
// a directory above an attachment moves it, and reconcile follows it.
// Reconcile only drops records and updates their paths; it never adopts or
// removes an attached mount that has no record. Recording first means nsmountd leaves none of
// its own, so such a mount is someone else's (an admin's, another tool's)
// and none of our business.
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { RegistryStore } from '../registry/store';
import type { ChangeListener } from '../events/changes';
import type { MountRecord } from '../registry/state';
import { mountIdsOf } from '../native/mount-api';
import { attachMount, detachAttachedMount } from './attach';
import { parseMountinfo, type MountinfoEntry } from './mountinfo';
import { whereNow } from './attachment-location';
import { QuotaExceeded } from '../errors';

export interface AttachmentRequest {
  /** Detached mount to attach; stays open (and then refers to the attached mount). */
  mountFd: number;
  /** Directory to attach on, already checked by checkAttachTarget. */
  targetFd: number;
  /** Where the target is, as the daemon sees it: for ListMounts and reconciliation. */
  targetPath: string;
  ownerUid: number;
  source: string;
  /** "directory" or "image:<designator>". */
  kind: string;
}

export interface AttachmentsOptions {
  store: RegistryStore;
  log: Logger;
  /** How many attachments one non-root owner may hold at once. */
  limitPerUid: number;
  now?: () => number;
  /** For tests; default /proc/self/mountinfo (the daemon's mount namespace). */
  mountinfoPath?: string;
  /** Told of every attachment made and forgotten, once recorded. */
  changes?: ChangeListener;
}

export class Attachments {
  private readonly now: () => number;

  constructor(private readonly opts: AttachmentsOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Records, then attaches. A detached mount already has the ids it keeps
   * once attached (move_mount moves the same mount), so the record can be
   * durable before the mount is visible: a daemon killed in between leaves
   * a record of a mount that never got attached, which reconcile drops at
   * the next start, rather than an attached mount nobody knows, which no
   * one could Unmount and whose loop device would stay busy. If the
   * registry cannot be written, nothing is attached at all.
   */
  attach(request: AttachmentRequest): MountRecord {
    this.ensureRoomFor(request.ownerUid);
    const ids = mountIdsOf(request.mountFd);
    const record: MountRecord = {
      target: request.targetPath,
      ownerUid: request.ownerUid,
      source: request.source,
      kind: request.kind,
      mountId: (ids.unique !== 0n ? ids.unique : BigInt(ids.legacy)).toString(),
      legacyMountId: ids.legacy,
      createdUsec: (BigInt(this.now()) * 1000n).toString(),
    };
    this.opts.store.update((state) => {
      // Counted again under the registry lock: another daemon may share it.
      this.checkLimit(state.mounts.countWhere('ownerUid', request.ownerUid), request.ownerUid);
      state.mounts.insert(record);
    });
    try {
      attachMount(request.mountFd, request.targetFd);
    } catch (err) {
      try {
        this.forget(record.mountId);
      } catch (removeErr) {
        // Harmless: the mount id is never attached, so reconcile drops it and Unmount cannot match it.
        this.opts.log.warn({ err: removeErr, target: record.target }, 'could not forget an attachment that failed');
      }
      throw err;
    }
    this.opts.changes?.({ kind: 'mount-added', ownerUid: record.ownerUid, mountId: record.mountId });
    return record;
  }

  /**
   * Takes back an attachment just made, through the fd that attached it
   * (its caller left before the reply): detached, then forgotten, so
   * its loop device goes with the last fd.
   */
  withdraw(record: MountRecord, mountFd: number): void {
    const mountId = BigInt(record.mountId);
    detachAttachedMount({ targetFd: mountFd, expectedMountId: mountId });
    this.remove(mountId);
  }

  /**
   * Throws QuotaExceeded if `ownerUid` may not attach one more mount; a
   * method calls it before costly work (attach() checks again). Records of
   * mounts unmounted behind our back do not count: they are dropped first.
   */
  ensureRoomFor(ownerUid: number): void {
    if (ownerUid === 0 || this.list({ ownerUid }).length < this.opts.limitPerUid) return;
    try {
      this.reconcile();
    } catch (err) {
      this.opts.log.debug({ err }, 'reconcile before the attachment limit check failed');
    }
    this.checkLimit(this.list({ ownerUid }).length, ownerUid);
  }

  private checkLimit(held: number, ownerUid: number): void {
    if (ownerUid === 0) return;
    if (held >= this.opts.limitPerUid) {
      throw new QuotaExceeded(`You already have ${held} attachments (limit ${this.opts.limitPerUid}), the most nsmountd keeps for one user. Unmount one first.`);
    }
  }

  /** The record of the mount with this id, with its current path. */
  find(mountId: bigint): MountRecord | undefined {
    const text = mountId.toString();
    const record = this.opts.store.read().mounts.get(text);
    return record && this.current(record);
  }

  /** Forgets an attachment (after it was detached); returns whether it was known. */
  remove(mountId: bigint): boolean {
    const forgotten = this.forget(mountId.toString());
    if (forgotten) this.opts.changes?.({ kind: 'mount-removed', ownerUid: forgotten.ownerUid, mountId: forgotten.mountId });
    return forgotten !== undefined;
  }

  /** Deletes the record without announcing it: for one whose mount never became visible. */
  private forget(mountId: string): MountRecord | undefined {
    return this.opts.store.update((state) => {
      const record = state.mounts.get(mountId);
      return record && state.mounts.delete(mountId) ? record : undefined;
    });
  }

  list(filter: { ownerUid?: number } = {}): MountRecord[] {
    const { mounts } = this.opts.store.read();
    return filter.ownerUid === undefined ? mounts.all() : mounts.where('ownerUid', filter.ownerUid);
  }

  /**
   * Drops every record whose mount is gone (unmounted behind our back, or
   * the machine rebooted with a persistent state directory) and updates
   * the path of every other one: a mount is identified by its unique id,
   * so renaming a directory above it changes where it is, not whether it
   * is ours. Runs at start-up (every record) and before each ListMounts
   * (the records it lists); writes the registry only when something
   * changed. Returns how many were kept and dropped.
   */
  reconcile(filter: { ownerUid?: number } = {}): { kept: number; dropped: number } {
    let mountinfo: MountinfoEntry[] | undefined;
    const readMountinfo = () =>
      (mountinfo ??= parseMountinfo(fs.readFileSync(this.opts.mountinfoPath ?? '/proc/self/mountinfo', 'utf8')));
    // One caller's ListMounts checks that caller's records only: its cost must not grow with everyone else's.
    const records = this.list(filter);
    const stale: MountRecord[] = [];
    const moved = new Map<string, string>();
    for (const record of records) {
      const where = whereNow(record, readMountinfo, this.opts.log);
      if (where === null) stale.push(record);
      else if (where !== record.target) moved.set(record.mountId, where);
    }
    const forgotten: MountRecord[] = [];
    if (stale.length > 0 || moved.size > 0) {
      this.opts.store.update((state) => {
        for (const record of stale) {
          if (!state.mounts.delete(record.mountId)) continue;
          forgotten.push(record);
          this.opts.log.info({ target: record.target, ownerUid: record.ownerUid, mountId: record.mountId }, 'forgot an attachment that is no longer mounted');
        }
        for (const [mountId, target] of moved) {
          const record = state.mounts.get(mountId);
          if (!record) continue;
          this.opts.log.info({ from: record.target, to: target, mountId }, 'an attachment moved');
          state.mounts.put({ ...record, target });
        }
      });
    }
    for (const record of forgotten) this.opts.changes?.({ kind: 'mount-removed', ownerUid: record.ownerUid, mountId: record.mountId });
    return { kept: records.length - stale.length, dropped: stale.length };
  }

  /** The record as it is now: its mount point where the mount has moved (for messages and polkit details). */
  current(record: MountRecord): MountRecord {
    const where = whereNow(record, () => parseMountinfo(fs.readFileSync(this.opts.mountinfoPath ?? '/proc/self/mountinfo', 'utf8')), this.opts.log);
    return where === null || where === record.target ? record : { ...record, target: where };
  }
}
