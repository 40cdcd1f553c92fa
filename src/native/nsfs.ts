import fs from 'node:fs';
import { nsm_ns_is_nsfs, nsm_ns_type, nsm_ns_owner_uid, nsm_ns_id, nsm_ns_handle, nsm_ns_open_handle, nsm_ns_handle_alive } from './bindings';
import { check } from './check';
import { Errno } from './errno';
import { InvalidArgument, SystemError } from '../errors';

// The maps are a property of the namespace fd, so callers look here too.
export { readUserNamespaceMaps } from './userns';

export type NamespaceType = 'user' | 'mnt' | 'net' | 'pid' | 'ipc' | 'uts' | 'cgroup' | 'time' | 'unknown';

/** Names a namespace without pinning it (kernel >= 6.13 nsfs file handles). */
export interface NamespaceHandle {
  handleType: number;
  bytes: Buffer;
}

const CLONE_NEW: ReadonlyMap<number, NamespaceType> = new Map([
  [0x00020000, 'mnt'],
  [0x02000000, 'cgroup'],
  [0x04000000, 'uts'],
  [0x08000000, 'ipc'],
  [0x10000000, 'user'],
  [0x20000000, 'pid'],
  [0x40000000, 'net'],
  [0x00000080, 'time'],
]);

const MAX_HANDLE_SZ = 128;

export function isNamespaceFd(fd: number): boolean {
  return check(nsm_ns_is_nsfs(fd), 'fstatfs') === 1;
}

/** Throws SystemError ENOTTY for an fd that is not a namespace at all. */
export function namespaceType(fd: number): NamespaceType {
  const type = check(nsm_ns_type(fd), 'NS_GET_NSTYPE');
  return CLONE_NEW.get(type) ?? 'unknown';
}

/** Only for user namespaces (EINVAL otherwise). */
export function namespaceOwnerUid(fd: number): number {
  const uid: [number] = [0];
  check(nsm_ns_owner_uid(fd, uid), 'NS_GET_OWNER_UID');
  return uid[0];
}

export function namespaceId(fd: number): bigint {
  const id: [number | bigint] = [0];
  check(nsm_ns_id(fd, id), 'NS_GET_ID');
  return BigInt(id[0]);
}

export function namespaceFileHandle(fd: number): NamespaceHandle {
  const bytes = Buffer.alloc(MAX_HANDLE_SZ);
  const type: [number] = [0];
  const len = check(nsm_ns_handle(fd, type, bytes, bytes.length), 'name_to_handle_at');
  if (len > bytes.length) throw new SystemError(Errno.EOVERFLOW, 'name_to_handle_at');
  return { handleType: type[0], bytes: Buffer.from(bytes.subarray(0, len)) };
}

/** Opens the namespace while it lives; SystemError ESTALE once it is gone. */
export function openNamespaceByHandle(handle: NamespaceHandle): number {
  return check(nsm_ns_open_handle(handle.handleType, handle.bytes, handle.bytes.length), 'open_by_handle_at');
}

/**
 * true if the namespace exists, false if it is gone (ESTALE), undefined if
 * the kernel cannot tell (no nsfs handle support, a handle not shaped like
 * this kernel's, ...): callers must then fail safe and never free what the
 * namespace might use. Throws only when we could not ask (out of fds or
 * memory).
 */
export function namespaceAlive(handle: NamespaceHandle): boolean | undefined {
  // The kernel also answers ESTALE for a handle of the wrong type or
  // length, so a corrupted record would read as "gone": only trust ESTALE
  // for handles shaped like one this kernel issued.
  const shape = referenceShape();
  if (!shape || handle.handleType !== shape.handleType || handle.bytes.length !== shape.length) return undefined;
  return askAlive(handle);
}

function askAlive(handle: NamespaceHandle): boolean | undefined {
  const ret = nsm_ns_handle_alive(handle.handleType, handle.bytes, handle.bytes.length);
  if (ret >= 0) return true;
  switch (-ret) {
    case Errno.ESTALE:
      return false;
    case Errno.EMFILE:
    case Errno.ENFILE:
    case Errno.ENOMEM:
      throw new SystemError(-ret, 'open_by_handle_at');
    default:
      return undefined;
  }
}

interface HandleShape {
  handleType: number;
  length: number;
}

// null: probed, unsupported.
let probed: HandleShape | null | undefined;

/** The type and length of a handle that this kernel issued and reopened. */
function referenceShape(): HandleShape | null {
  if (probed === undefined) {
    let fd: number | undefined;
    try {
      fd = fs.openSync('/proc/self/ns/user', 'r'); // libuv opens O_CLOEXEC
      const handle = namespaceFileHandle(fd);
      probed = askAlive(handle) === true ? { handleType: handle.handleType, length: handle.bytes.length } : null;
    } catch {
      probed = null;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  return probed;
}

/** Whether this kernel can name and reopen namespaces by handle; probed once on /proc/self/ns/user. */
export function namespaceFileHandlesSupported(): boolean {
  return referenceShape() !== null;
}

const HANDLE_TYPE_HEX = 8;

/** Hex: 8 digits of handle type (u32, big-endian) then the handle bytes. */
export function encodeHandle(handle: NamespaceHandle): string {
  return (handle.handleType >>> 0).toString(16).padStart(HANDLE_TYPE_HEX, '0') + handle.bytes.toString('hex');
}

export function decodeHandle(text: string): NamespaceHandle {
  const maxLength = HANDLE_TYPE_HEX + 2 * MAX_HANDLE_SZ;
  if (typeof text !== 'string' || !/^(?:[0-9a-f]{2})+$/i.test(text) || text.length <= HANDLE_TYPE_HEX || text.length > maxLength) {
    throw new InvalidArgument('handle', `must be ${HANDLE_TYPE_HEX + 2}..${maxLength} hex digits, even in number`);
  }
  return {
    handleType: parseInt(text.slice(0, HANDLE_TYPE_HEX), 16) | 0,
    bytes: Buffer.from(text.slice(HANDLE_TYPE_HEX), 'hex'),
  };
}
