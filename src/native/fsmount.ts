import { NSM_LOOP_READ_ONLY, nsm_fs_mount, nsm_fs_mount_step_name, nsm_loop_fs_mount } from './bindings';
import { asyncCall } from './off-thread';
import { SystemError } from '../errors';
import {
  MOUNT_ATTR_NOATIME,
  MOUNT_ATTR_NODEV,
  MOUNT_ATTR_NODIRATIME,
  MOUNT_ATTR_NOEXEC,
  MOUNT_ATTR_NOSUID,
  MOUNT_ATTR_RDONLY,
  MOUNT_ATTR_STRICTATIME,
} from './mount-attr';


/** Which fsopen/fsconfig/fsmount step failed; callers map errnos per step. */
export type FsMountStep = 'loop' | 'open' | 'source' | 'option' | 'create' | 'mount';
const OPERATIONS: Record<FsMountStep, string> = {
  loop: 'LOOP_CONFIGURE',
  open: 'fsopen',
  source: 'fsconfig(source)',
  option: 'fsconfig(option)',
  create: 'fsconfig(FSCONFIG_CMD_CREATE)',
  mount: 'fsmount',
};

/** A SystemError that also says which step failed and what the filesystem logged. */
export class FsMountError extends SystemError {
  constructor(
    errno: number,
    readonly step: FsMountStep,
    readonly fstype: string,
    /** Filesystem context log lines ("e ext4: ..."), possibly empty. */
    readonly log: string[],
  ) {
    super(errno, `${OPERATIONS[step]} ${fstype}`, { task: `mount the ${fstype} file system` });
  }
}

export interface FsMountOptions {
  fstype: string;
  /** Block device path; the "source" parameter only takes strings. */
  source?: string;
  /** Already validated "key" or "key=value" entries; never user text as-is. */
  options?: readonly string[];
  readOnly?: boolean;
  nosuid?: boolean;
  nodev?: boolean;
  noexec?: boolean;
  /** Absent: the kernel default (relatime). */
  atime?: 'noatime' | 'relatime' | 'strictatime';
  nodiratime?: boolean;
}

const LOG_SIZE = 4096;

/** Returns a detached (fsmount) mount fd, O_CLOEXEC. */
export function fsMount(request: FsMountOptions): number {
  const log = Buffer.alloc(LOG_SIZE);
  const step: [number] = [0];
  const ret = nsm_fs_mount(request.fstype, request.source ?? null, optionsText(request), attributeFlags(request), step, log, LOG_SIZE);
  return mountFdOrThrow(ret, step[0], log, request.fstype);
}

export interface LoopWindow {
  /** Start of the window in the backing file, bytes. */
  offset: bigint;
  /** Length of the window; 0n means up to the end of the file. */
  sizeLimit: bigint;
}

/**
 * Attaches `backingFd` (used as it is, never reopened by path) to a free
 * autoclear loop device and mounts `request.fstype` from it, on libuv's
 * pool in one trip: both read the backing file, which may be a caller's
 * on a FUSE or NFS server that never answers (off-thread.ts). Even for a
 * file on a local disk it stays off Node's thread: the mount sleeps in the
 * kernel for the loop device's reads and for the kernel threads the file
 * system starts (ext4's workqueues), milliseconds on a loaded machine, at
 * no CPU cost; on Node's thread that stalled every other call (measured in
 * docs/PERFORMANCE.md, "Mount on Node's thread"). Returns the
 * detached mount fd; the device lives exactly as long as the mount. A
 * failed attach is an FsMountError of step 'loop'.
 */
export async function loopFsMount(backingFd: number, window: LoopWindow, request: Omit<FsMountOptions, 'source'>): Promise<number> {
  const log = Buffer.alloc(LOG_SIZE);
  const step: [number] = [0];
  const loopFlags = request.readOnly ? NSM_LOOP_READ_ONLY : 0;
  const ret = await asyncCall<number>(
    nsm_loop_fs_mount,
    backingFd,
    window.offset,
    window.sizeLimit,
    loopFlags,
    request.fstype,
    optionsText(request),
    attributeFlags(request),
    step,
    log,
    LOG_SIZE,
  );
  return mountFdOrThrow(ret, step[0], log, request.fstype);
}

function optionsText(request: Pick<FsMountOptions, 'options'>): string {
  for (const option of request.options ?? []) {
    // The C side splits on '\n'; these would be caught by the option parser
    // already, this guards against a caller that skipped it.
    if (option.includes('\n') || option.includes('\0') || option === '') {
      throw new Error(`fsMount: malformed option ${JSON.stringify(option)}`);
    }
  }
  return (request.options ?? []).join('\n');
}

function attributeFlags(request: Omit<FsMountOptions, 'fstype' | 'source' | 'options'>): number {
  return (
    (request.readOnly ? MOUNT_ATTR_RDONLY : 0) |
    (request.nosuid ? MOUNT_ATTR_NOSUID : 0) |
    (request.nodev ? MOUNT_ATTR_NODEV : 0) |
    (request.noexec ? MOUNT_ATTR_NOEXEC : 0) |
    (request.atime === 'noatime' ? MOUNT_ATTR_NOATIME : 0) |
    (request.atime === 'strictatime' ? MOUNT_ATTR_STRICTATIME : 0) |
    (request.nodiratime ? MOUNT_ATTR_NODIRATIME : 0)
  );
}

function mountFdOrThrow(ret: number, step: number, log: Buffer, fstype: string): number {
  if (ret >= 0) return ret;
  const text = log.subarray(0, Math.max(0, log.indexOf(0))).toString('utf8');
  const lines = text.split('\n').filter((line) => line.length > 0);
  throw new FsMountError(-ret, fsMountStep(step) ?? 'open', fstype, lines);
}

/** The step numbered `step` in enum nsm_fs_mount_step (native/nsmount.h), if this module knows its name. */
export function fsMountStep(step: number): FsMountStep | undefined {
  const name = nsm_fs_mount_step_name(step);
  return name !== null && Object.hasOwn(OPERATIONS, name) ? (name as FsMountStep) : undefined;
}
