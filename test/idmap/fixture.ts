// Scratch trees for root-only idmap tests: real directories on the root
// filesystem, mounts under them torn down afterwards.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { createUserNamespace } from '../../src/native/userns';
import { O_PATH } from '../../src/native/dirfd';
import { FOREIGN_UID_BASE } from '../../src/idmap/foreign-range';
import { parseMountinfo } from '../../src/mounts/mountinfo';

/** An unprivileged caller; the uid needs no passwd entry. */
export const CALLER = { uid: 61001, gid: 61001 } as const;
export const OTHER = { uid: 61002, gid: 61002 } as const;
/** Host base of the caller's target user namespace ("0 TARGET_BASE 65536"). */
export const TARGET_BASE = 1_100_000;
export const FOREIGN = FOREIGN_UID_BASE;

export function makeTree(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nsmountd-${prefix}-`));
  // Tests run commands as other uids, which must reach into the tree.
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Mount points at or below `dir`, deepest first. */
export function mountsBelow(dir: string): string[] {
  return parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

export function removeTree(dir: string): void {
  // Stacked mounts need one umount each.
  for (let mounts = mountsBelow(dir); mounts.length > 0; mounts = mountsBelow(dir)) {
    for (const m of mounts) spawnSync('umount', ['-l', m]);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

export function mountOptionsAt(mountPoint: string): string[] {
  const entries = parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) => m.mountPoint === mountPoint);
  if (entries.length === 0) throw new Error(`nothing mounted at ${mountPoint}`);
  return entries[entries.length - 1].mountOptions;
}

export function openPath(p: string): number {
  return fs.openSync(p, O_PATH);
}

export function openDir(p: string): number {
  return fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
}

export function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** The maps of callerNamespace(), as checkTargetNamespace finds them. */
export const CALLER_NAMESPACE_MAPS = {
  uidMap: [{ inside: 0, outside: TARGET_BASE, count: 65536 }],
  gidMap: [{ inside: 0, outside: TARGET_BASE, count: 65536 }],
};

/** A user namespace like one nsmountd allocates for CALLER: "0 TARGET_BASE 65536". */
export function callerNamespace(): number {
  return createUserNamespace({ ownerUid: CALLER.uid, ownerGid: CALLER.gid, ...CALLER_NAMESPACE_MAPS });
}

/** "uid:gid" of `p` as a process in the user namespace `nsFd` sees it. */
export function ownerSeenFrom(nsFd: number, p: string): string {
  return execFileSync('nsenter', [`--user=/proc/${process.pid}/fd/${nsFd}`, 'stat', '-c', '%u:%g', p], { encoding: 'utf8' }).trim();
}

export function ownerOf(p: string): string {
  const st = fs.lstatSync(p);
  return `${st.uid}:${st.gid}`;
}

/** Runs a command as host uid/gid with no supplementary groups; throws on failure. */
export function runAs(ids: { uid: number; gid: number }, command: string, args: string[]): void {
  execFileSync('setpriv', [`--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups', command, ...args], { stdio: 'pipe' });
}
