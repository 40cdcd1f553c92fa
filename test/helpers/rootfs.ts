// A tiny rootfs tarball from what the machine has: busybox-static and its
// applet links, plus entries that exercise every kind tar can carry
// (owners, setuid, symlinks, hard links, a fifo, a device node).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'id', 'ls', 'cat', 'echo', 'sleep', 'ps', 'touch', 'stat', 'mkdir', 'chown', 'kill', 'true', 'false', 'env', 'readlink', 'tty', 'stty', 'tr'];

/** One entry of the tarball, for tests to check against what lands on disk. */
export interface RootfsEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'char';
  uid: number;
  gid: number;
  mode: number;
  target?: string;
}

export const ROOTFS_ENTRIES: RootfsEntry[] = [
  { path: 'bin/busybox', type: 'file', uid: 0, gid: 0, mode: 0o755 },
  { path: 'bin/su-like', type: 'file', uid: 0, gid: 0, mode: 0o4755 },
  { path: 'bin/sgid-tool', type: 'file', uid: 0, gid: 50, mode: 0o2711 },
  { path: 'home/user/notes', type: 'file', uid: 1000, gid: 1000, mode: 0o600 },
  { path: 'home/user', type: 'dir', uid: 1000, gid: 1000, mode: 0o750 },
  { path: 'srv/www', type: 'dir', uid: 33, gid: 33, mode: 0o2775 },
  { path: 'srv/www/index.html', type: 'file', uid: 33, gid: 33, mode: 0o644 },
  { path: 'srv/www/link.html', type: 'file', uid: 33, gid: 33, mode: 0o644 },
  { path: 'srv/current', type: 'symlink', uid: 0, gid: 0, mode: 0o777, target: 'www' },
  { path: 'var/nobody', type: 'file', uid: 65534, gid: 65534, mode: 0o640 },
  { path: 'run/pipe', type: 'fifo', uid: 0, gid: 0, mode: 0o620 },
  { path: 'dev/null', type: 'char', uid: 0, gid: 0, mode: 0o666 },
];

/** The hard link pair in ROOTFS_ENTRIES. */
export const HARD_LINK = { first: 'srv/www/index.html', second: 'srv/www/link.html' };

/** Builds the tree as root under `workDir` and returns the path of the tarball (root-owned, 0644). */
export function buildRootfsTarball(workDir: string, name = 'rootfs.tar'): string {
  const tree = path.join(workDir, `${name}.tree`);
  fs.rmSync(tree, { recursive: true, force: true });
  for (const dir of ['bin', 'proc', 'dev', 'tmp', 'etc', 'root', 'home', 'srv', 'var', 'run', 'mnt']) {
    fs.mkdirSync(path.join(tree, dir), { recursive: true });
  }
  fs.chmodSync(path.join(tree, 'tmp'), 0o1777);
  fs.chmodSync(path.join(tree, 'root'), 0o700);
  fs.copyFileSync(BUSYBOX, path.join(tree, 'bin/busybox'));
  for (const applet of APPLETS) fs.symlinkSync('busybox', path.join(tree, 'bin', applet));
  fs.writeFileSync(path.join(tree, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n');
  fs.writeFileSync(path.join(tree, 'etc/group'), 'root:x:0:\nuser:x:1000:\n');
  for (const e of ROOTFS_ENTRIES) {
    const p = path.join(tree, e.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (e.path === HARD_LINK.second) fs.linkSync(path.join(tree, HARD_LINK.first), p);
    else if (e.type === 'file' && !fs.existsSync(p)) fs.writeFileSync(p, `${e.path}\n`);
    else if (e.type === 'dir') fs.mkdirSync(p, { recursive: true });
    else if (e.type === 'symlink') fs.symlinkSync(e.target!, p);
    else if (e.type === 'fifo') execFileSync('mkfifo', [p]);
    else if (e.type === 'char') execFileSync('mknod', [p, 'c', '1', '3']);
  }
  // Owners before modes: chown clears setuid bits.
  for (const e of ROOTFS_ENTRIES) {
    const p = path.join(tree, e.path);
    fs.lchownSync(p, e.uid, e.gid);
    if (e.type !== 'symlink') fs.chmodSync(p, e.mode);
  }
  const tarball = path.join(workDir, name);
  execFileSync('tar', ['--create', '--numeric-owner', '--file', tarball, '-C', tree, '.']);
  fs.rmSync(tree, { recursive: true, force: true });
  return tarball;
}

/**
 * The smallest rootfs that runs: busybox and its applet links, nothing
 * else (no /proc, /dev or /tmp), as a busybox tarball would be. Returns
 * the tree (root-owned) under `workDir`.
 */
export function buildMinimalRootfsTree(workDir: string, name = 'minimal'): string {
  const tree = path.join(workDir, name);
  fs.rmSync(tree, { recursive: true, force: true });
  fs.mkdirSync(path.join(tree, 'bin'), { recursive: true });
  fs.copyFileSync(BUSYBOX, path.join(tree, 'bin/busybox'));
  for (const applet of APPLETS) fs.symlinkSync('busybox', path.join(tree, 'bin', applet));
  return tree;
}

/** buildMinimalRootfsTree as a tarball; returns its path. */
export function buildMinimalRootfsTarball(workDir: string, name = 'minimal.tar'): string {
  const tree = buildMinimalRootfsTree(workDir, `${name}.tree`);
  const tarball = path.join(workDir, name);
  execFileSync('tar', ['--create', '--numeric-owner', '--file', tarball, '-C', tree, '.']);
  fs.rmSync(tree, { recursive: true, force: true });
  return tarball;
}
