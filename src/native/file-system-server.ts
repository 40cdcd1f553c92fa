// Whether work on an fd may wait for a file system's server: a FUSE
// daemon, an NFS or SMB server, or whatever serves the block device
// under a disk file system (a loop device's file may itself be on one).
// Such a server may never answer, and a syscall waiting for it cannot be
// interrupted, so what may wait runs off Node's thread (off-thread.ts);
// everything else stays on the fast path.
//
// Decided from what statmount reports of the fd's superblock, which asks
// no file system, and from sysfs: only the memory file systems, and the
// local disk file systems listed here on a block device stack that never
// waits (block-stack.ts), count as never waiting. A mount statmount
// cannot see (in another mount namespace, or before Linux 6.8) may wait.
import { nsm_statmount_sb } from './bindings';
import { BlockStack } from './block-stack';
import { mountIdsOf } from './mount-api';

const MEMORY_MAGICS = new Set<bigint>([
  0x01021994n, // tmpfs
  0x858458f6n, // ramfs
]);
/**
 * Need a block device, whose stack decides. erofs can also read a file
 * directly (an anonymous device), which may be on FUSE or NFS: that has
 * no block device and may wait.
 */
const BLOCK_MAGICS = new Set<bigint>([
  0xef53n, // ext2, ext3, ext4
  0x58465342n, // xfs
  0xf2f52010n, // f2fs
  0xe0f5e1e2n, // erofs
  0x73717368n, // squashfs
]);
/** Reports an anonymous device: see BlockStack.btrfsMayWait. */
const BTRFS_MAGIC = 0x9123683en;

export interface Superblock {
  magic: bigint;
  major: number;
  minor: number;
}

/** Whether work on a file system with this superblock may wait for a server. */
export function superblockMayWait(sb: Superblock, blocks: BlockStack): boolean {
  if (MEMORY_MAGICS.has(sb.magic)) return false;
  if (sb.magic === BTRFS_MAGIC) return blocks.btrfsMayWait();
  if (!BLOCK_MAGICS.has(sb.magic) || sb.major === 0) return true;
  return blocks.deviceMayWait(sb.major, sb.minor);
}

const out = new BigUint64Array(3);
const blockStack = new BlockStack();

/** False only when `fd` is on a memory file system, or a local disk one on devices that never wait for a server. */
export function mayWaitForServer(fd: number): boolean {
  let unique: bigint;
  try {
    unique = mountIdsOf(fd).unique;
  } catch {
    return true;
  }
  if (unique === 0n || nsm_statmount_sb(unique, out) < 0) return true;
  return superblockMayWait({ magic: out[0], major: Number(out[1]), minor: Number(out[2]) }, blockStack);
}
