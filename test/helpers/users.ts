// Fixed test accounts. They exist only inside the test run's private mount
// namespace, where scripts/test.js bind-mounts extended copies of
// /etc/passwd, /etc/group, /etc/subuid and /etc/subgid (installTestUsers).
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** Supplementary group ids (beyond gid). */
  groups: number[];
  /** First id and count of the user's /etc/subuid and /etc/subgid range, if any. */
  subids?: { start: number; count: number };
}

export const ADMINS_GROUP = { name: 'nsmtest-admins', gid: 61010 } as const;

export const alice: TestUser = { name: 'nsmtest-alice', uid: 61001, gid: 61001, groups: [], subids: { start: 1_100_000, count: 65536 } };
export const bob: TestUser = { name: 'nsmtest-bob', uid: 61002, gid: 61002, groups: [], subids: { start: 1_200_000, count: 65536 } };
export const carol: TestUser = {
  name: 'nsmtest-carol',
  uid: 61003,
  gid: 61003,
  groups: [ADMINS_GROUP.gid],
  subids: { start: 1_300_000, count: 65536 },
};
/** Has no subordinate id range: for tests of callers without one. */
export const dave: TestUser = { name: 'nsmtest-dave', uid: 61004, gid: 61004, groups: [] };

export const TEST_USERS: readonly TestUser[] = [alice, bob, carol, dave];

/**
 * Accounts whose uids are container ids, as nss-systemd (foreign range) or
 * nss-mymachines make them resolvable; dbus-daemon admits only uids NSS
 * knows. The pooled one lies above the default pool, in the pool that
 * test/userns/block-ownership.test.ts configures.
 */
export const foreignIdUser: TestUser = { name: 'nsmtest-foreign', uid: 0x7ffe0000 + 1000, gid: 0x7ffe0000 + 1000, groups: [] };
export const pooledIdUser: TestUser = { name: 'nsmtest-pooled', uid: 0x70040005, gid: 0x70040005, groups: [] };
const CONTAINER_ID_USERS: readonly TestUser[] = [foreignIdUser, pooledIdUser];

export function passwdLines(): string[] {
  return [...TEST_USERS, ...CONTAINER_ID_USERS].map((u) => `${u.name}:x:${u.uid}:${u.gid}:nsmountd test user:/nonexistent:/usr/sbin/nologin`);
}

export function groupLines(): string[] {
  const members = (gid: number) =>
    TEST_USERS.filter((u) => u.groups.includes(gid))
      .map((u) => u.name)
      .join(',');
  return [
    ...[...TEST_USERS, ...CONTAINER_ID_USERS].map((u) => `${u.name}:x:${u.gid}:`),
    `${ADMINS_GROUP.name}:x:${ADMINS_GROUP.gid}:${members(ADMINS_GROUP.gid)}`,
  ];
}

/** The whole of /etc/subuid (and /etc/subgid) during tests: fixed, so host entries cannot change results. */
export function subidLines(): string[] {
  return TEST_USERS.filter((u) => u.subids).map((u) => `${u.name}:${u.subids!.start}:${u.subids!.count}`);
}

/**
 * Bind-mounts extended copies over /etc/passwd, /etc/group, /etc/subuid and
 * /etc/subgid. Only call this inside a private mount namespace: it changes
 * what every process in the namespace sees.
 */
export function installTestUsers(opts: { workDir: string }): void {
  fs.mkdirSync(opts.workDir, { recursive: true });
  fs.chmodSync(opts.workDir, 0o755);
  const withLines = (file: string, lines: string[]) => {
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const kept = current.split('\n').filter((l) => l && !lines.some((n) => l.split(':')[0] === n.split(':')[0]));
    return [...kept, ...lines].join('\n') + '\n';
  };
  const files: Array<[string, string]> = [
    ['/etc/passwd', withLines('/etc/passwd', passwdLines())],
    ['/etc/group', withLines('/etc/group', groupLines())],
    ['/etc/subuid', subidLines().join('\n') + '\n'],
    ['/etc/subgid', subidLines().join('\n') + '\n'],
  ];
  for (const [target, content] of files) {
    const copy = path.join(opts.workDir, path.basename(target));
    fs.writeFileSync(copy, content, { mode: 0o644 });
    fs.chmodSync(copy, 0o644);
    // A bind mount needs an existing target. Minimal systems may lack
    // /etc/subuid; an empty one means the same as none, so creating it on
    // the host changes nothing there.
    if (!fs.existsSync(target)) fs.writeFileSync(target, '', { mode: 0o644 });
    execFileSync('mount', ['--bind', copy, target]);
  }
}
