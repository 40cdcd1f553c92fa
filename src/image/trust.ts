// Decides whether an image fd is one the administrator vouched for: a
// root-owned, not group/other-writable regular file directly inside one of
// the configured image directories. The path the kernel reports for the fd
// is only a hint; the decision rests on the directory entry of that name,
// looked up through the configured directory and compared by device and
// inode, so a rename or a hard link elsewhere cannot borrow trust.
import fs from 'node:fs';
import path from 'node:path';

export interface TrustOptions {
  /** Absolute directories from the configuration. */
  imageDirectories: readonly string[];
}

export interface ImageTrust {
  trusted: boolean;
  /** Path the kernel reports for the fd (may be stale or "(deleted)"). */
  path: string;
  reason: string;
}

function sameFile(a: fs.BigIntStats, b: fs.BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function safelyOwned(stat: fs.BigIntStats): boolean {
  return stat.uid === 0n && (stat.mode & 0o022n) === 0n;
}

function checkDirectory(directory: string, name: string, image: fs.BigIntStats, parentOfLink: string): ImageTrust | string {
  let dirfd: number;
  try {
    dirfd = fs.openSync(directory, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch {
    return `image directory ${directory} cannot be opened`;
  }
  try {
    const dirStat = fs.fstatSync(dirfd, { bigint: true });
    // The fd's parent must be this directory itself, not a same-named path.
    let parentStat: fs.BigIntStats;
    try {
      parentStat = fs.statSync(parentOfLink, { bigint: true });
    } catch {
      return `${parentOfLink} is gone`;
    }
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
  const image = fs.fstatSync(fd, { bigint: true });
  if (!image.isFile()) return untrusted('not a regular file');
  if (!linkPath.startsWith('/')) return untrusted('the fd is not a file in the mount tree');

  const parent = path.dirname(linkPath);
  const name = path.basename(linkPath);
  const reasons: string[] = [];
  for (const directory of options.imageDirectories) {
    if (!path.isAbsolute(directory)) continue;
    const result = checkDirectory(directory, name, image, parent);
    if (typeof result !== 'string') return result;
    reasons.push(result);
  }
  return untrusted(reasons.length ? reasons.join('; ') : 'no image directory is configured');
}
