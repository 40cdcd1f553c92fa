// Whether a block device can wait for a server, read from sysfs: the
// device itself, and for one stacked on others (device-mapper, md) every
// device below it, recursively through /sys/dev/block/MAJ:MIN/slaves.
// Only hardware on a local bus and memory disks never wait. Everything
// else may: a loop device reads a file (which may be on FUSE or NFS),
// nbd, ublk, rbd and drbd devices are served by a process or over the
// network, NVMe over fabrics and iSCSI disks sit on the network, and any
// kind not known here is taken to wait, which costs only speed.
//
// Decided by where the kernel put the device and by its name, never by a
// major number: those of device-mapper, nbd or ublk are dynamic.
//
// Read on every close of a caller's fd and every AttachTo, so the answer
// is kept for a short while per device: a stack only changes when root
// reconfigures it.
import fs from 'node:fs';
import path from 'node:path';

export interface BlockStackOptions {
  /** Where sysfs is mounted; a test's own tree elsewhere. */
  sysfs?: string;
  /** How long an answer is kept. */
  ttlMs?: number;
  now?: () => number;
}

/** Served by a process or over the network, whatever bus they hang off. */
const SERVED = /^(loop|nbd|ublkb|rbd|drbd)\d/;
/** Disks in memory: local, though the kernel lists them as virtual devices. */
const MEMORY = /^(zram|ram)\d+$/;
/** An iSCSI disk hangs off its session: the network. */
const ISCSI_SESSION = /\/session\d+\//;
/** Deeper than any real stack; a loop in a (fake) tree ends here. */
const MAX_DEPTH = 16;

export class BlockStack {
  private readonly sysfs: string;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly answers = new Map<string, { mayWait: boolean; until: number }>();

  constructor(options: BlockStackOptions = {}) {
    this.sysfs = realpathOr(options.sysfs ?? '/sys');
    this.ttlMs = options.ttlMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** Whether I/O to block device major:minor may wait for a server, at any level of its stack. */
  deviceMayWait(major: number, minor: number): boolean {
    return this.remembered(`${major}:${minor}`, () => this.mayWaitAt(path.join(this.sysfs, 'dev/block', `${major}:${minor}`), 0));
  }

  /**
   * A btrfs superblock reports an anonymous device, not its disks, and
   * nothing outside the file system maps one to its uuid in sysfs. So
   * btrfs counts as never waiting only while every member device of
   * every btrfs file system on the machine never waits; one btrfs on a
   * loop device sends all btrfs work to the pool, which costs only speed.
   */
  btrfsMayWait(): boolean {
    return this.remembered('btrfs', () => {
      const root = path.join(this.sysfs, 'fs/btrfs');
      const members = listDir(root)
        .filter((name) => name !== 'features')
        .flatMap((fsid) => listDir(path.join(root, fsid, 'devices')).map((name) => path.join(root, fsid, 'devices', name)));
      return members.length === 0 || members.some((member) => this.mayWaitAt(member, 0));
    });
  }

  private remembered(key: string, decide: () => boolean): boolean {
    const now = this.now();
    const known = this.answers.get(key);
    if (known && known.until > now) return known.mayWait;
    const mayWait = decide();
    if (this.answers.size > 1024) this.answers.clear();
    this.answers.set(key, { mayWait, until: now + this.ttlMs });
    return mayWait;
  }

  /** `link`: a sysfs link to a block device's directory. */
  private mayWaitAt(link: string, depth: number): boolean {
    if (depth > MAX_DEPTH) return true;
    let dir: string;
    try {
      dir = fs.realpathSync(link);
      // A partition's directory is inside its disk's: the disk is what serves it.
      if (fs.existsSync(path.join(dir, 'partition'))) dir = path.dirname(dir);
    } catch {
      return true;
    }
    const name = path.basename(dir);
    if (SERVED.test(name)) return true;
    const below = listDir(path.join(dir, 'slaves'));
    if (below.length > 0) return below.some((slave) => this.mayWaitAt(path.join(dir, 'slaves', slave), depth + 1));
    const relative = dir.slice(this.sysfs.length);
    if (relative.startsWith('/devices/virtual/')) return !MEMORY.test(name);
    return ISCSI_SESSION.test(relative);
  }
}

function realpathOr(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return dir;
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
