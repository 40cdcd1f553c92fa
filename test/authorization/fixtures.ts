// The matrix's fixtures: paths computed from one work directory, created by
// matrix.test.ts before the rules apply, and the fds a call passes for them.
import path from 'node:path';
import { alice, type TestUser } from '../helpers/users';
import { OTHER_USER, type CallerSpec } from './callers';
import type { Row } from './table';

export interface Env {
  work: string;
  /** Root-owned ext4 image in the configured (trusted) image directory. */
  trustedImage: string;
  /** Fd number (in the client) of the owner's held namespace. */
  namespaceFd: number;
  /** In the daemon's mount namespace. */
  isMountPoint(p: string): boolean;
}

export const userDir = (env: Env, user: TestUser) => path.join(env.work, user.name);
/** Owned by the user: what "own directory" means. */
export const dataDir = (env: Env, user: TestUser) => path.join(userDir(env, user), 'data');
/** Owned by the user, with a tmpfs (suid,dev) mounted on its `sub`: for Recursive. */
export const nestedDir = (env: Env, user: TestUser) => path.join(userDir(env, user), 'nested');
/** Foreign-owned, directly below the user's directory: a portable home. */
export const homeDir = (env: Env, user: TestUser) => path.join(userDir(env, user), 'home');
/**
 * A portable home in a directory the user owns, which sits inside the
 * "other" column's user's directory: that user owns an ancestor, but
 * the tree is still not theirs.
 */
export const lodgerHome = (env: Env, user: TestUser) => path.join(userDir(env, OTHER_USER), `lodger-${user.name}`, 'home');
/** Foreign-owned below a root-owned directory: nobody's portable home. */
export const orphanDir = (env: Env) => path.join(env.work, 'orphans', 'foreign');
/** An ext4 image the user owns, in the user's directory: never trusted. */
export const untrustedImage = (env: Env, user: TestUser) => path.join(userDir(env, user), 'untrusted.ext4');
/** An empty directory owned by the cell's owner, unique to the cell. */
export const cellTarget = (env: Env, row: Row, caller: CallerSpec) => path.join(userDir(env, caller.owner), `t-${row.id}-${caller.kind}`);

export const pathFd = (p: string) => ({ $fd: p, mode: 'path-dir' });
/** Read-only image fds: cells mount the same image concurrently, and several read-write mounts of one ext4 would corrupt it. */
export const imageFd = (p: string) => ({ $fd: p, mode: 'r' });

/** What a row needs made (as the owner, before the rules apply) for each cell. */
export type Prepare = { kind: 'target' } | { kind: 'attachment'; via: 'IdmapDirectory' | 'Mount' };

export interface Cell {
  env: Env;
  row: Row;
  caller: CallerSpec;
}


export const nsName = (user: TestUser) => `matrix-${user.name}`;
export const listedTarget = (env: Env) => path.join(userDir(env, alice), 'listed');
