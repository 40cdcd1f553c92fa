import { nsm_fs_mount, nsm_fs_mount_step_name } from './bindings';
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
export type FsMountStep = 'open' | 'source' | 'option' | 'create' | 'mount';
const OPERATIONS: Record<FsMountStep, string> = {
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
  for (const option of request.options ?? []) {
    // The C side splits on '\n'; these would be caught by the option parser
    // already, this guards against a caller that skipped it.
    if (option.includes('\n') || option.includes('\0') || option === '') {
      throw new Error(`fsMount: malformed option ${JSON.stringify(option)}`);
    }
  }
  const attrs =
    (request.readOnly ? MOUNT_ATTR_RDONLY : 0) |
    (request.nosuid ? MOUNT_ATTR_NOSUID : 0) |
    (request.nodev ? MOUNT_ATTR_NODEV : 0) |
    (request.noexec ? MOUNT_ATTR_NOEXEC : 0) |
    (request.atime === 'noatime' ? MOUNT_ATTR_NOATIME : 0) |
    (request.atime === 'strictatime' ? MOUNT_ATTR_STRICTATIME : 0) |
    (request.nodiratime ? MOUNT_ATTR_NODIRATIME : 0);
  const step: [number] = [0];
  const log = Buffer.alloc(LOG_SIZE);
  const ret = nsm_fs_mount(
    request.fstype,
    request.source ?? null,
    (request.options ?? []).join('\n'),
    attrs,
    step,
    log,
    LOG_SIZE,
  );
  if (ret >= 0) return ret;
  const text = log.subarray(0, Math.max(0, log.indexOf(0))).toString('utf8');
  const lines = text.split('\n').filter((line) => line.length > 0);
  throw new FsMountError(-ret, fsMountStep(step[0]) ?? 'open', request.fstype, lines);
}

/** The step numbered `step` in enum nsm_fs_mount_step (native/nsmount.h), if this module knows its name. */
export function fsMountStep(step: number): FsMountStep | undefined {
  const name = nsm_fs_mount_step_name(step);
  return name !== null && Object.hasOwn(OPERATIONS, name) ? (name as FsMountStep) : undefined;
}
