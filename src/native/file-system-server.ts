// Whether work on an fd may wait for a file system's server: a FUSE
// daemon, an NFS or SMB server, or the file behind a loop device (which
// may itself sit on one). Such a server may never answer, and a syscall
// waiting for it cannot be interrupted, so what may wait runs off Node's
// thread (off-thread.ts); everything else stays on the fast path.
//
// Decided from what statmount reports of the fd's superblock, which asks
// no file system: only the local disk and memory file systems listed here
// count as never waiting, and only on a device that is not a loop device.
// A mount statmount cannot see (in another mount namespace, or before
// Linux 6.8) may wait.
import { nsm_statmount_sb } from './bindings';
import { mountIdsOf } from './mount-api';

const LOCAL_MAGICS = new Set<bigint>([
  0xef53n, // ext2, ext3, ext4
  0x58465342n, // xfs
  0x9123683en, // btrfs
  0xf2f52010n, // f2fs
  0x01021994n, // tmpfs
  0x858458f6n, // ramfs
  0xe0f5e1e2n, // erofs
  0x73717368n, // squashfs
]);
/** A loop device reads and writes a file, which may be on FUSE or NFS. */
const LOOP_MAJOR = 7n;

const out = new BigUint64Array(3);

/** False only when `fd` is on a local disk or memory file system that never waits for a server. */
export function mayWaitForServer(fd: number): boolean {
  let unique: bigint;
  try {
    unique = mountIdsOf(fd).unique;
  } catch {
    return true;
  }
  if (unique === 0n || nsm_statmount_sb(unique, out) < 0) return true;
  return !LOCAL_MAGICS.has(out[0]) || out[1] === LOOP_MAJOR;
}
