// The kinds of fd the fuzzer passes. Generation only names a kind; the
// client turns the name into an fd at send time (test/clients/fuzz.ts), so a
// recorded call stays readable and a replay needs no fd numbers.

/** Opened fresh by the client for each call and closed once it is answered. */
export const OPENED_KINDS = [
  'file-ro',
  'file-rw',
  'file-wo',
  'file-path',
  'symlink-path',
  'fifo',
  'dir-ro',
  'dir-path',
  // A new empty directory the caller owns: the AttachTo that can succeed.
  'attach-dir',
  'attach-dir-ro',
  'dir-nonempty',
  'dir-other-user',
  'dir-foreign',
  'dir-foreign-orphan',
  'dir-root',
  'dir-tmp',
  'proc-dir',
  'proc-self-dir',
  'proc-file',
  'proc-ns-dir',
  'ns-user',
  'ns-user-path',
  'ns-mnt',
  'ns-net',
  'ns-pid',
  'ns-pid_for_children',
  'ns-uts',
  'ns-ipc',
  'ns-cgroup',
  'ns-time',
  'ns-time_for_children',
  'dev-null',
  'dev-zero',
  'dev-loop-control-path',
  'dev-loop-path',
  'image-trusted',
  'image-trusted-path',
  'image-own-ext4-ro',
  'image-own-ext4-rw',
  'image-own-gpt',
  'image-own-garbage',
  'image-own-truncated',
  'image-own-empty',
] as const;

/**
 * Created before the client starts and inherited by it (see fd-zoo.ts):
 * kinds Node cannot make itself, or that only root may open.
 */
export const INHERITED_KINDS = [
  'pipe-read',
  'pipe-write',
  'socket-unix-stream',
  'socket-unix-dgram',
  'socket-inet',
  'socket-netlink',
  'memfd',
  'memfd-image',
  'eventfd',
  'pidfd',
  'epoll',
  // Opened by root and handed down: a caller can hold fds it could not open.
  'block-loop',
  'image-root-only',
  'dir-root-only',
  // The client's own connection to the bus.
  'bus-socket',
] as const;

/** fds the daemon returned earlier in the run, kept for a while so later calls can use them. */
export const POOL_KINDS = ['pool-userns', 'pool-mount', 'pool-directory'] as const;

export type OpenedKind = (typeof OPENED_KINDS)[number];
export type InheritedKind = (typeof INHERITED_KINDS)[number];
export type PoolKind = (typeof POOL_KINDS)[number];
export type FdKind = OpenedKind | InheritedKind | PoolKind;

export const ALL_FD_KINDS: readonly FdKind[] = [...OPENED_KINDS, ...INHERITED_KINDS, ...POOL_KINDS];

/** Kinds a given argument role plausibly wants, to reach past the fd checks more often. */
export const ROLE_KINDS: Record<'directory' | 'image' | 'userns' | 'attach' | 'mount', readonly FdKind[]> = {
  directory: ['dir-ro', 'dir-path', 'dir-foreign', 'dir-nonempty', 'pool-directory', 'dir-other-user', 'attach-dir'],
  image: ['image-trusted', 'image-own-ext4-ro', 'image-own-ext4-rw', 'image-own-gpt', 'image-own-garbage', 'image-own-truncated', 'memfd-image', 'block-loop', 'image-root-only'],
  userns: ['pool-userns', 'pool-userns', 'ns-user', 'ns-user-path', 'ns-mnt'],
  attach: ['attach-dir', 'attach-dir', 'attach-dir-ro', 'dir-nonempty', 'dir-other-user', 'pool-mount'],
  mount: ['pool-mount', 'pool-mount', 'attach-dir', 'dir-path'],
};
