import type { OwnedFd, FdLike } from './owned-fd';

export interface CallOptions {
  /** Let polkit ask for authentication (ALLOW_INTERACTIVE_AUTHORIZATION); default: the client's setting. */
  interactive?: boolean;
}

export interface AllocatedUserNamespace {
  userNamespace: OwnedFd;
  /** First host uid/gid of the range mapped to 0 inside. */
  base: number;
  size: number;
}

export interface UserNamespaceInfo {
  name: string;
  ownerUid: number;
  base: number;
  size: number;
  /** The kernel's namespace id (NS_GET_ID). */
  namespaceId: bigint;
  createdUsec: bigint;
}

export type IdmapMode = 'foreign' | 'owner' | 'identity' | 'auto';

export interface IdmapOptions extends CallOptions {
  userNamespace?: FdLike;
  mode?: IdmapMode;
  readOnly?: boolean;
  recursive?: boolean;
  /** An empty directory of the caller's to attach the mount at. */
  attachTo?: FdLike;
}

export interface MountInfo {
  target: string;
  ownerUid: number;
  source: string;
  kind: string;
  mountId: bigint;
}

/** How a mounted image's ids appear: as on disk, or its root's owner as the caller. */
export type MountMode = 'identity' | 'owner';

export interface MountOptions extends CallOptions {
  readOnly?: boolean;
  /** Default "identity"; "owner" cannot be combined with userNamespace. */
  mode?: MountMode;
  userNamespace?: FdLike;
  /** Partition designators ("root", "home", ...) to mount; default: all mountable. */
  partitions?: string[];
  attachTo?: FdLike;
  /** Filesystem mount options, within the daemon's allowlist. */
  mountOptions?: string;
}

export interface MountedPartition {
  designator: string;
  fstype: string;
  uuid: string;
  label: string;
  offset: bigint;
  size: bigint;
  readOnly: boolean;
  mount: OwnedFd;
}

export interface ManagerProperties {
  version: string;
  features: string[];
  /** Problems of the daemon's set-up an administrator should fix, e.g. NSS sources it cannot list. */
  warnings: string[];
  foreignUidBase: number;
  foreignUidCount: number;
}
