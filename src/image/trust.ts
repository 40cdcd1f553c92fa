// Decides whether an image fd is one the administrator vouched for: a
// root-owned, not group/other-writable regular file directly inside one of
// the configured image directories. The path the kernel reports for the fd
// is only a hint; the decision rests on the directory entry of that name,
// looked up through the configured directory and compared by device and
// inode, so a rename or a hard link elsewhere cannot borrow trust.
//
// The image and its parent are looked at through cached attributes and
// dentries only: the image may be a caller's file on a FUSE or NFS mount
// whose server never answers, and such a file is never trusted anyway (it
// is not directly inside a configured directory).
import fs from 'node:fs';
import path from 'node:path';
import { closeQuietly } from '../native/fd';
import { openPathNoSymlinks } from '../native/resolve';
import { statFdCached, type CachedStat } from '../native/stat';

export interface TrustOptions {
  /** Absolute directories from the configuration. */
  imageDirectories: readonly string[];
  /** statFdCached of this very fd, when the caller already has it. */
  image?: CachedStat;
}

export interface ImageTrust {
  trusted: boolean;
  /** Path the kernel reports for the fd (may be stale or "(deleted)"). */
  path: string;
  reason: string;
}

type FileIdentity = { dev: bigint; ino: bigint };

function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function safelyOwned(stat: { uid: number | bigint; mode: number | bigint }): boolean {
  return Number(stat.uid) === 0 && (Number(stat.mode) & 0o022) === 0;
}

/** The directory `directory` names, found through cached dentries only; undefined if that does not find it. */
function cachedDirectoryIdentity(directory: string): FileIdentity | undefined {
  let fd: number | undefined;
  try {
    fd = openPathNoSymlinks(directory, { cachedOnly: true });
    return statFdCached(fd);
  } catch {
    return undefined;
  } finally {
    closeQuietly(fd);
  }
}

/** The fd's parent directory, looked up once for all configured directories and only when one of them exists. */
type ParentIdentity = () => FileIdentity | undefined;

function checkDirectory(directory: string, name: string, image: CachedStat, parentOfLink: string, parentIdentity: ParentIdentity): ImageTrust | string {
  let dirfd: number;
  try {
    dirfd = fs.openSync(directory, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch {
    return `image directory ${directory} cannot be opened`;
  }
  try {
    const dirStat = fs.fstatSync(dirfd, { bigint: true });
    // The fd's parent must be this directory itself, not a same-named path.
    const parentStat = parentIdentity();
    if (!parentStat) return `${parentOfLink} is gone, or cannot be looked up without asking its file system`;
    if (!sameFile(dirStat, parentStat)) return `not directly inside ${directory}`;
    if (!safelyOwned(dirStat)) return `${directory} is not root-owned or is writable by group/others`;
    // fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW) through the magic link.
    let entry: fs.BigIntStats;
    try {
      entry = fs.lstatSync(`/proc/self/fd/${dirfd}/${name}`, { bigint: true });
    } catch {
      return `${directory} has no entry ${JSON.stringify(name)}`;
    }
    if (!sameFile(entry, image)) return `${path.join(directory, name)} is not the file the fd refers to`;
    if (!safelyOwned(image)) return 'the image is not owned by root or is writable by group/others';
    return { trusted: true, path: path.join(directory, name), reason: `inside image directory ${directory}` };
  } finally {
    fs.closeSync(dirfd);
  }
}

export function classifyImage(fd: number, options: TrustOptions): ImageTrust {
  let linkPath: string;
  try {
    linkPath = fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return { trusted: false, path: '', reason: 'the fd has no path' };
  }
  const untrusted = (reason: string): ImageTrust => ({ trusted: false, path: linkPath, reason });
  const image = options.image ?? statFdCached(fd);
  if (!image.isFile()) return untrusted('not a regular file');
  if (!linkPath.startsWith('/')) return untrusted('the fd is not a file in the mount tree');

  const parent = path.dirname(linkPath);
  const name = path.basename(linkPath);
  let parentLookedUp: { identity: FileIdentity | undefined } | undefined;
  const parentIdentity = () => (parentLookedUp ??= { identity: cachedDirectoryIdentity(parent) }).identity;
  const reasons: string[] = [];
  for (const directory of options.imageDirectories) {
    if (!path.isAbsolute(directory)) continue;
    const result = checkDirectory(directory, name, image, parent, parentIdentity);
    if (typeof result !== 'string') return result;
    reasons.push(result);
  }
  return untrusted(reasons.length ? reasons.join('; ') : 'no image directory is configured');
}
