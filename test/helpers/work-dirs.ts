// Directories owned by test users for the directory and mount methods, and
// what is mounted below them in the daemon's mount namespace.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMountinfo, type MountinfoEntry } from '../../src/mounts/mountinfo';
import type { TestUser } from './users';

/** A fresh world-searchable directory owned by root; remove it with removeTree. */
export function makeWorkDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nsmountd-${prefix}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Creates `parent/name` owned by `owner` (a user or a raw uid). */
export function ownedDir(parent: string, name: string, owner: TestUser | number, mode = 0o755): string {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir);
  const uid = typeof owner === 'number' ? owner : owner.uid;
  const gid = typeof owner === 'number' ? owner : owner.gid;
  fs.chownSync(dir, uid, gid);
  fs.chmodSync(dir, mode);
  return dir;
}

/** Mounts at or below `dir` in the mount namespace of process `pid`. */
export function mountsBelow(pid: number, dir: string): MountinfoEntry[] {
  return parseMountinfo(fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8')).filter(
    (m) => m.mountPoint === dir || m.mountPoint.startsWith(dir + '/'),
  );
}
