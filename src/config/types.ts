// The daemon's configuration after defaults, file and drop-ins are merged.

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const SETGROUPS_CHOICES = ['allow', 'deny'] as const;
export type Setgroups = (typeof SETGROUPS_CHOICES)[number];

export interface Config {
  daemon: {
    /** Where allocation and mount records live; must survive restarts, so /run, not a private tmp. */
    stateDir: string;
    logLevel: LogLevel;
    /** Exit after this many idle seconds (D-Bus activation restarts us); 0 = never. */
    idleTimeoutSec: number;
    /** How long a call waits for the registry lock another process holds before it fails with Unavailable. */
    registryLockTimeoutSec: number;
    /** Manager calls one non-root uid may have in flight at once; more are QuotaExceeded. */
    callsPerUid: number;
    /** How long a call waits for a caller's file (its image, its directory) before it fails with Unavailable. */
    ioTimeoutSec: number;
    /** Pool threads one uid may hold at once for work on its files (src/native/off-thread.ts). */
    ioCallsPerUid: number;
  };
  pool: {
    /** First host uid/gid handed out; a multiple of 65536. */
    first: number;
    /** Last host uid/gid handed out, inclusive. Only whole 65536-ID blocks from `first` are used. */
    last: number;
    /** How many user namespaces one caller uid may hold at once. */
    quotaPerUid: number;
    /** How often ranges of namespaces that are gone are taken back. */
    reclaimIntervalSec: number;
    /** Hand a block last held by one user to another user (files left behind then change hands). */
    reuseAcrossUsers: boolean;
    /** Written to /proc/PID/setgroups of each new namespace: may its owner drop supplementary groups? */
    setgroups: Setgroups;
  };
  images: {
    /** Directories whose images count as trusted (org.nsmount.mount-image). */
    directories: string[];
  };
  mounts: {
    /** How many attachments (AttachTo) one caller uid may hold at once; root is not limited. */
    attachmentsPerUid: number;
  };
}
