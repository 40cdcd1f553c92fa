// Shared by the Mount test files: a trusted image directory (root-owned,
// configured in the stack), an untrusted directory owned by alice, and the
// calls and checks every file makes.
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { callAs, type CallOptions, type CallResult } from '../helpers/call';
import { tempDir } from '../helpers/images';
import type { TestUser } from '../helpers/users';
import { alice } from '../helpers/users';

export const ERR = 'org.nsmount.NsMount1.Error.';

/** (designator, fstype, uuid, label, offset, size, read_only, fd) as the call client prints it. */
export type MountEntry = [string, string, string, string, number, number, boolean, number];

export interface ImageDirs {
  base: string;
  /** Configured as an image directory: images here are trusted. */
  trusted: string;
  /** Owned by alice: images here are not. */
  untrusted: string;
  config: string;
}

export function makeImageDirs(): ImageDirs {
  const base = tempDir('nsmountd-mount-');
  fs.chmodSync(base, 0o755);
  const trusted = path.join(base, 'images');
  const untrusted = path.join(base, 'alice');
  fs.mkdirSync(trusted, { mode: 0o755 });
  fs.mkdirSync(untrusted, { mode: 0o755 });
  fs.chownSync(untrusted, alice.uid, alice.gid);
  return { base, trusted, untrusted, config: `[images]\ndirectories = [${JSON.stringify(trusted)}]\n` };
}

/** Moves a built image into place with the ownership that decides its trust. */
export function place(image: string, dir: string, owner: { uid: number; gid: number } = { uid: 0, gid: 0 }): string {
  const target = path.join(dir, path.basename(image));
  fs.renameSync(image, target);
  fs.chownSync(target, owner.uid, owner.gid);
  fs.chmodSync(target, 0o644);
  return target;
}

export const fdArg = (file: string, mode = 'r') => ({ $fd: file, mode });

export function mountAs(
  user: TestUser | 'root',
  address: string,
  image: unknown,
  options: Record<string, unknown> = {},
  opts: CallOptions = {},
): Promise<CallResult> {
  return callAs(user, address, 'Mount', 'ha{sv}', [image, options], opts);
}

export function expectOk(t: ExecutionContext, r: CallResult): Extract<CallResult, { ok: true }> {
  if (!r.ok) t.fail(`${r.name}: ${r.message}`);
  return r as Extract<CallResult, { ok: true }>;
}

export function expectError(t: ExecutionContext, r: CallResult, name: string, pattern?: RegExp): void {
  if (r.ok) {
    t.fail(`call should fail with ${name}, got ${JSON.stringify(r.body)}`);
    return;
  }
  t.is(r.name, name.includes('.') ? name : ERR + name, r.message);
  if (pattern) t.regex(r.message, pattern);
}

export function entries(r: Extract<CallResult, { ok: true }>): MountEntry[] {
  return r.body[0] as MountEntry[];
}

/** The `then` output, failing the test when the command failed. */
export function thenOutput(t: ExecutionContext, r: Extract<CallResult, { ok: true }>): string {
  t.is(r.then?.code, 0, r.then?.stderr);
  return r.then?.stdout ?? '';
}

/** statvfs f_flag of each received fd (ST_RDONLY=1, ST_NOSUID=2, ST_NODEV=4), one line each. */
export const STATVFS_FLAGS =
  `/usr/bin/python3 -c "import os,sys; [print(os.statvfs('/proc/self/fd/%s' % f).f_flag) for f in sys.argv[1:]]"`;
export const ST_RDONLY = 1;
export const ST_NOSUID = 2;
export const ST_NODEV = 4;
