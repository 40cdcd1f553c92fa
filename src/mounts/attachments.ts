// Mounts nsmountd attached for callers (IdmapDirectory's and Mount's
// AttachTo). Each one is in the registry before it is attached, so Unmount
// can tell ours from anything else and a restarted daemon still knows them,
// even one killed mid-call. A detached mount fd handed to a caller is not
// recorded: it dies with its last fd.
//
// Reconcile only drops records; it never adopts or removes an attached
// mount that has no record. Recording first means nsmountd leaves none of
// its own, so such a mount is someone else's (an admin's, another tool's)
// and none of our business.
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { RegistryStore } from '../registry/store';
import type { MountRecord } from '../registry/state';
import { closeQuietly } from '../native/fd';
import { O_DIRECTORY, O_PATH, openAt } from '../native/dirfd';
import { mountIdsOf } from '../native/mount-api';
import { attachMount } from '../idmap/attach';
import { parseMountinfo } from '../idmap/mountinfo';

const AT_FDCWD = -100;

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
  now?: () => number;
  /** For tests; default /proc/self/mountinfo (the daemon's mount namespace). */
  mountinfoPath?: string;
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
      state.mounts.push(record);
    });
    try {
      attachMount(request.mountFd, request.targetFd);
    } catch (err) {
      try {
        this.remove(BigInt(record.mountId));
      } catch (removeErr) {
        // Harmless: the mount id is never attached, so reconcile drops it and Unmount cannot match it.
        this.opts.log.warn({ err: removeErr, target: record.target }, 'could not forget an attachment that failed');
      }
      throw err;
    }
    return record;
  }

  find(mountId: bigint): MountRecord | undefined {
    const text = mountId.toString();
    return this.opts.store.read().mounts.find((m) => m.mountId === text);
  }

  /** Forgets an attachment (after it was detached); returns whether it was known. */
  remove(mountId: bigint): boolean {
    const text = mountId.toString();
    return this.opts.store.update((state) => {
      const before = state.mounts.length;
      state.mounts = state.mounts.filter((m) => m.mountId !== text);
      return state.mounts.length !== before;
    });
  }

  list(filter: { ownerUid?: number } = {}): MountRecord[] {
    const { mounts } = this.opts.store.read();
    return filter.ownerUid === undefined ? mounts : mounts.filter((m) => m.ownerUid === filter.ownerUid);
  }

  /**
   * Drops every record whose mount is gone: unmounted behind our back, or
   * the machine rebooted with a persistent state directory. Runs at
   * start-up and before each ListMounts; writes the registry only when
   * something is dropped. Returns how many were kept and dropped.
   */
  reconcile(): { kept: number; dropped: number } {
    const mountinfo = parseMountinfo(fs.readFileSync(this.opts.mountinfoPath ?? '/proc/self/mountinfo', 'utf8'));
    const records = this.opts.store.read().mounts;
    const stale = new Set(records.filter((record) => !this.stillMounted(record, mountinfo)).map((r) => r.mountId));
    if (stale.size > 0) {
      this.opts.store.update((state) => {
        state.mounts = state.mounts.filter((record) => {
          if (!stale.has(record.mountId)) return true;
          this.opts.log.info({ target: record.target, ownerUid: record.ownerUid, mountId: record.mountId }, 'forgot an attachment that is no longer mounted');
          return false;
        });
      });
    }
    return { kept: records.length - stale.size, dropped: stale.size };
  }

  /**
   * mountinfo only shows the reusable legacy id, so a match there is a
   * lead: a mount at the recorded place with the recorded legacy id. It is
   * refuted only when the mount found at that path has the legacy id but
   * another unique id (the id was recycled). A mount stacked on top hides
   * ours from the path lookup, so a mismatch of the legacy id proves
   * nothing and the record stays; keeping a stale record is harmless,
   * since Unmount verifies the unique id, while losing a live one would
   * leave its owner unable to unmount it.
   */
  private stillMounted(record: MountRecord, mountinfo: ReturnType<typeof parseMountinfo>): boolean {
    const legacy = record.legacyMountId ?? legacyIdFromRecord(record);
    if (legacy === undefined) return true;
    if (!mountinfo.some((m) => m.mountId === legacy && m.mountPoint === record.target)) return false;
    let fd: number | undefined;
    try {
      fd = openAt(AT_FDCWD, record.target, O_PATH | O_DIRECTORY);
      const ids = mountIdsOf(fd);
      return !(ids.legacy === legacy && ids.unique !== 0n && ids.unique.toString() !== record.mountId);
    } catch {
      return true;
    } finally {
      closeQuietly(fd);
    }
  }
}

/** Kernels before 6.8 have no unique id, and the recorded id is the legacy one. */
function legacyIdFromRecord(record: MountRecord): number | undefined {
  const id = Number(record.mountId);
  return Number.isSafeInteger(id) && id < 2 ** 31 ? id : undefined;
}
