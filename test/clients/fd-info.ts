// What a test wants to know about a received fd without sharing the
// client's process: where it points, what it is and, for namespaces, who
// owns them.
import fs from 'node:fs';
import koffi from 'koffi';

export interface FdInfo {
  index: number;
  fd: number;
  readlink: string;
  stat: { mode: number; uid: number; gid: number; dev: number; ino: number };
  /** For user namespace fds: the uid that owns the namespace (NS_GET_OWNER_UID). */
  nsOwnerUid?: number;
}

// _IO(0xb7, 0x4) from <linux/nsfs.h>.
const NS_GET_OWNER_UID = 0xb704;
let ioctlOwner: ((fd: number, req: number, out: number[]) => number) | undefined;

function nsOwnerUid(fd: number): number | undefined {
  ioctlOwner ??= koffi.load('libc.so.6').func('int ioctl(int fd, unsigned long req, _Out_ uint32_t *uid)');
  const out = [0];
  return ioctlOwner(fd, NS_GET_OWNER_UID, out) === 0 ? out[0] : undefined;
}

export function fdInfo(fd: number, index: number): FdInfo {
  const readlink = fs.readlinkSync(`/proc/self/fd/${fd}`);
  const st = fs.fstatSync(fd);
  const info: FdInfo = {
    index,
    fd,
    readlink,
    stat: { mode: st.mode, uid: st.uid, gid: st.gid, dev: st.dev, ino: st.ino },
  };
  if (readlink.startsWith('user:[')) info.nsOwnerUid = nsOwnerUid(fd);
  return info;
}
