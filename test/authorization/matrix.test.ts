// Runs the authorization matrix of table.ts: one ava test per cell
// (method × option variant × kind of caller), all against one stack.
// Fixtures every cell needs (directories, held namespaces, attachments to
// unmount) are made in before(), while no rule is in force yet, since the
// denied and challenged users could not make their own afterwards.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { removeTree } from '../helpers/cleanup';
import { makeExt4 } from '../helpers/images';
import { lendNamespace, type LentNamespace } from '../helpers/lend-namespace';
import { runSession, type SessionStep } from '../helpers/session';
import { limitConcurrency } from '../helpers/limit';
import { LOOSEN_CLIENT, PYTHON, parseLoosen } from '../helpers/loosen';
import { makeWorkDir, mountsBelow, ownedDir } from '../helpers/work-dirs';
import { v } from '../helpers/call';
import type { TestUser } from '../helpers/users';
import { alice } from '../helpers/users';
import { CALLERS, FOREIGN_ROOT, OTHER_USER, OWNERS, RULES, type CallerKind, type CallerSpec, type Outcome } from './callers';
import { cellTarget, dataDir, homeDir, imageFd, listedTarget, lodgerHome, nestedDir, nsName, orphanDir, pathFd, untrustedImage, userDir, type Env } from './fixtures';
import { ROWS, callStep, type Row } from './table';

const SUID_DEV = 'suid,dev';
/** The client's fd for the owner's namespace: runAsUser hands `fds` over as 3, 4, ... */
const NAMESPACE_FD = 3;
const ST_NOSUID = 2;
const ST_NODEV = 4;
/**
 * For every mount fd the call returned, and every path below it given as
 * an argument: "<path> <statvfs f_flag> <st_dev>", one line each.
 */
const MOUNT_FLAGS = `/usr/bin/python3 -c '
import os, sys
for k in sorted(os.environ):
    if k.startswith("FD_call_"):
        base = "/proc/self/fd/" + os.environ[k]
        for rel in ["."] + sys.argv[1:]:
            p = base + "/" + rel
            print(rel, os.statvfs(p).f_flag, os.stat(p).st_dev)
'`;

/**
 * The "loosen" column: the owner makes the call, then tries to clear the
 * flags of every mount it got from a user and mount namespace of its own
 * (test/clients/loosen-mount.py). Its own kind, so attach targets are its own.
 */
const LOOSENER: CallerSpec = { ...CALLERS.find((c) => c.kind === 'owner')!, kind: 'loosen' as CallerKind, label: 'the owner, trying to loosen what it got' };
const loosenRows = ROWS.filter((row) => row.mounts !== undefined && 'allow' in row.expect.owner);

let env: Env;
let work: string;
let imagesDir: string;
const namespaces = new Map<TestUser, LentNamespace>();
// Each cell is a setpriv'd node client; a hundred at once would only thrash a small shared machine.
const limit = limitConcurrency(4);

test.before(async () => {
  if (rootSkipReason) return;
  work = makeWorkDir('authz');
  // Fixtures live on a mount that allows setuid and devices, so that a
  // nosuid,nodev clone proves the daemon's doing, whatever /tmp is mounted with.
  execFileSync('mount', ['-t', 'tmpfs', '-o', `${SUID_DEV},mode=755`, 'tmpfs', work]);
  imagesDir = ownedDir(work, 'images', 0);
});
test.after.always(async () => {
  for (const lent of namespaces.values()) await lent.release();
  if (env) removeTree(env.work);
});
const stack = useTestStack(() => ({ config: `[images]\ndirectories = [${JSON.stringify(imagesDir)}]\n` }));
test.before(async () => {
  if (rootSkipReason) return;
  env = {
    work,
    trustedImage: path.join(imagesDir, 'trusted.ext4'),
    namespaceFd: NAMESPACE_FD,
    isMountPoint: (p) => mountsBelow(stack.daemon.pid, p).some((m) => m.mountPoint === p),
  };
  const own = (p: string, owner: TestUser | number) => ownedDir(path.dirname(p), path.basename(p), owner);

  const build = ownedDir(work, 'build', 0);
  // Root-owned, 0644, directly in the configured directory: trusted.
  fs.renameSync(makeExt4(build, 'trusted.ext4', { sizeMiB: 8, files: { 'hello.txt': 'trusted\n' } }), env.trustedImage);
  fs.chmodSync(env.trustedImage, 0o644);
  own(path.dirname(orphanDir(env)), 0);
  own(orphanDir(env), FOREIGN_ROOT);
  own(userDir(env, OTHER_USER), OTHER_USER);
  for (const owner of OWNERS) {
    own(path.dirname(lodgerHome(env, owner)), owner);
    own(lodgerHome(env, owner), FOREIGN_ROOT);
    own(userDir(env, owner), owner);
    own(dataDir(env, owner), owner);
    own(homeDir(env, owner), FOREIGN_ROOT);
    own(nestedDir(env, owner), owner);
    const sub = own(path.join(nestedDir(env, owner), 'sub'), owner);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `${SUID_DEV},mode=755,uid=${owner.uid},gid=${owner.gid}`, 'tmpfs', sub]);
    fs.renameSync(makeExt4(build, `${owner.name}.ext4`, { sizeMiB: 8 }), untrustedImage(env, owner));
    fs.chownSync(untrustedImage(env, owner), owner.uid, owner.gid);
    fs.chmodSync(untrustedImage(env, owner), 0o644);
  }
  removeTree(build);

  for (const owner of OWNERS) namespaces.set(owner, await lendNamespace(owner, stack.address, nsName(owner)));
  const setups: Array<Promise<void>> = [];
  for (const row of ROWS) {
    const prepare = row.prepare;
    if (!prepare) continue;
    for (const caller of CALLERS) {
      const target = cellTarget(env, row, caller);
      own(target, caller.owner);
      if (prepare.kind === 'attachment') setups.push(limit(() => attachAs(caller.owner, prepare.via, target)));
    }
  }
  for (const row of loosenRows) if (row.prepare?.kind === 'target') own(cellTarget(env, row, LOOSENER), LOOSENER.owner);
  own(listedTarget(env), alice);
  setups.push(limit(() => attachAs(alice, 'IdmapDirectory', listedTarget(env))));
  await Promise.all(setups);
  await stack.polkit.setRules(RULES);
});

/** An attachment at `target` owned by `owner`, made the ordinary way. */
async function attachAs(owner: TestUser, via: 'IdmapDirectory' | 'Mount', target: string): Promise<void> {
  const step: SessionStep =
    via === 'IdmapDirectory'
      ? { name: 'a', member: via, signature: 'ha{sv}', body: [pathFd(dataDir(env, owner)), { Mode: v('s', 'owner'), AttachTo: v('h', pathFd(target)) }] }
      : { name: 'a', member: via, signature: 'ha{sv}', body: [imageFd(env.trustedImage), { AttachTo: v('h', pathFd(target)) }] };
  const r = await runSession(owner, stack.address, [step]);
  const a = r.steps.a;
  if (!a.ok) throw new Error(`fixture: ${owner.name} could not attach at ${target} via ${via}: ${a.error}: ${a.message}`);
}

// Without this the nosuid,nodev checks could pass on flags the fixtures already had.
rootTest('control: the fixtures (directories and images) sit on mounts that allow setuid and devices', (t) => {
  for (const p of [env.work, path.join(nestedDir(env, alice), 'sub')]) {
    const entry = mountsBelow(stack.daemon.pid, p).find((m) => m.mountPoint === p);
    t.truthy(entry, `${p} is a mount point`);
    t.false(entry?.mountOptions.includes('nosuid') || entry?.mountOptions.includes('nodev'), `${p}: ${entry?.mountOptions.join(',')}`);
  }
});

function describe(outcome: Outcome): string {
  return 'allow' in outcome ? 'allowed' : `${outcome.error.split('.').pop()}${outcome.action ? ` (${outcome.action})` : ''}`;
}

function checkMounts(t: ExecutionContext, row: Row, caller: CallerSpec, out: string): void {
  const lines = out.trim().split('\n').filter(Boolean).map((l) => l.split(' '));
  const roots = lines.filter(([rel]) => rel === '.');
  t.true(roots.length > 0, 'the reply carries at least one mount fd');
  t.is(lines.length, roots.length * (1 + (row.submounts?.length ?? 0)), out);
  lines.forEach(([rel, flags, dev], i) => {
    t.is(Number(flags) & (ST_NOSUID | ST_NODEV), ST_NOSUID | ST_NODEV, `${rel}: statvfs f_flag ${flags} lacks nosuid or nodev`);
    // A submount path that did not cross into another mount would check the parent twice.
    if (rel !== '.') t.not(dev, lines[i - 1 - row.submounts!.indexOf(rel)][2], `${rel} is not a mount of its own`);
  });
  if (row.mounts === 'attached') {
    const target = cellTarget(env, row, caller);
    const entry = mountsBelow(stack.daemon.pid, target).find((m) => m.mountPoint === target);
    t.truthy(entry, `nothing is attached at ${target}`);
    for (const option of ['nosuid', 'nodev']) t.true(entry?.mountOptions.includes(option), `${option} in ${entry?.mountOptions.join(',')}`);
  }
}

const cell = test.macro({
  async exec(t, row: Row, caller: CallerSpec) {
    const expected = row.expect[caller.kind];
    const allowed = 'allow' in expected;
    const checksMounts = allowed && row.mounts !== undefined && caller.user !== 'root';
    const then = !allowed ? undefined : checksMounts ? [MOUNT_FLAGS, ...(row.submounts ?? [])].join(' ') : row.then;
    const c = { env, row, caller };
    const r = await limit(() =>
      runSession(caller.user, stack.address, [callStep(c)], { then, fds: row.namespace ? [namespaces.get(caller.owner)!.fd] : undefined }),
    );
    const step = r.steps.call;
    if ('allow' in expected) {
      if (!step.ok) return t.fail(`expected the call to succeed, got ${step.error}: ${step.message}`);
      if (then !== undefined) t.is(r.then?.code, 0, `then: ${r.then?.stderr}`);
      if (checksMounts) checkMounts(t, row, caller, r.then?.stdout ?? '');
      const problem = row.verify?.(c, step.body, r.then?.stdout ?? '');
      t.is(problem, undefined);
    } else {
      if (step.ok) return t.fail(`expected ${expected.error}, but the call succeeded: ${JSON.stringify(step.body)}`);
      t.is(step.error, expected.error, step.message);
      // Which action polkit was asked about is the point of the polkit-gated cells.
      if (expected.action) t.regex(step.message, new RegExp(`\\b${expected.action.replace(/[.-]/g, '\\$&')}\\b`));
    }
    if (row.effect) t.is(row.effect(c), allowed, allowed ? 'the call had no effect' : 'a refused call had an effect');
  },
  title: (_title, row: Row, caller: CallerSpec) => `${row.method}: ${row.variant} × ${caller.label} → ${describe(row.expect[caller.kind])}`,
});

for (const row of ROWS) for (const caller of CALLERS) rootTest(cell, row, caller);

const loosen = test.macro({
  async exec(t, row: Row) {
    const c = { env, row, caller: LOOSENER };
    const then = `${PYTHON} ${LOOSEN_CLIENT} $(env | sed -n 's/^FD_call_[0-9]*=//p')`;
    const r = await limit(() =>
      runSession(LOOSENER.user, stack.address, [callStep(c)], { then, fds: row.namespace ? [namespaces.get(LOOSENER.owner)!.fd] : undefined }),
    );
    const step = r.steps.call;
    if (!step.ok) return t.fail(`expected the call to succeed, got ${step.error}: ${step.message}`);
    const report = parseLoosen(r.then?.stdout ?? '');
    if (!report.fds?.length) return t.fail(`loosen-mount: ${report.error ?? r.then?.stderr}`);
    for (const fd of report.fds) {
      t.deepEqual(fd.loosened, [], `fd ${fd.fd}: flags changed`);
      for (const [attempt, outcome] of Object.entries(fd.tries)) t.not(outcome, 'ok', `fd ${fd.fd}: ${attempt} succeeded`);
    }
  },
  title: (_title, row: Row) => `${row.method}: ${row.variant} × ${LOOSENER.label} → nothing loosened`,
});

for (const row of loosenRows) rootTest(loosen, row);
