import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootSerial, rootSkipReason, rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v } from '../helpers/call';
import { removeTree } from '../helpers/cleanup';
import { runAsUser } from '../helpers/as-user';
import { alice, bob } from '../helpers/users';
import { makeWorkDir, ownedDir, mountsBelow } from '../helpers/work-dirs';
import { runSession, ref, inNamespace, ATTACH_CLIENT, type SessionStep, type StepResult } from '../helpers/session';
import { lendNamespace, type LentNamespace } from '../helpers/lend-namespace';

const ERR = 'org.nsmount.NsMount1.Error.';
const INTERACTIVE_REQUIRED = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired';
const FOREIGN_ROOT = 2147352576;
const NODE = process.execPath;

let work: string;
let aliceDir: string;
let bobDir: string;
/** Root-owned: a foreign tree here has no ancestor alice owns. */
let rootDir: string;
let fdsAtStart: number;
let socketServer: net.Server;
let lent: LentNamespace;

test.after.always(async () => {
  socketServer?.close();
  await lent?.release();
  if (work) removeTree(work);
});
const stack = useTestStack();
test.before(async () => {
  if (rootSkipReason) return;
  work = makeWorkDir('idmap');
  aliceDir = ownedDir(work, 'alice', alice);
  bobDir = ownedDir(work, 'bob', bob);
  rootDir = ownedDir(work, 'root', 0);
  ownedDir(rootDir, 'orphan', FOREIGN_ROOT);
  ownedDir(aliceDir, 'not-empty', alice);
  fs.writeFileSync(path.join(aliceDir, 'not-empty/file'), '');
  ownedDir(aliceDir, 'target', alice);
  ownedDir(bobDir, 'target', bob);
  ownedDir(aliceDir, 'mounted', alice);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `uid=${alice.uid},gid=${alice.gid},mode=755`, 'tmpfs', path.join(aliceDir, 'mounted')]);
  fs.writeFileSync(path.join(aliceDir, 'file'), '');
  execFileSync('mkfifo', [path.join(aliceDir, 'pipe')]);
  socketServer = net.createServer();
  await new Promise<void>((resolve) => socketServer.listen(path.join(aliceDir, 'socket'), resolve));
  lent = await lendNamespace(bob, stack.address, 'lent-to-alice');
  // Warm up what the daemon opens lazily (polkit connection, NSS) before counting.
  await callAs(alice, stack.address, 'ListMounts', 'a{sv}', [{}]);
  fdsAtStart = stack.daemon.fdCount();
});

function ok(t: ExecutionContext, r: StepResult | undefined): Extract<StepResult, { ok: true }> {
  if (!r?.ok) t.fail(r ? `${r.name}: ${r.error}: ${r.message}` : 'step missing');
  return r as Extract<StepResult, { ok: true }>;
}

const allocate = (name: string): SessionStep => ({ name: 'ns', member: 'AllocateUserNamespace', signature: 'sua{sv}', body: [name, 0, {}] });
const idmap = (directory: unknown, options: Record<string, unknown>, extra: Partial<SessionStep> = {}): SessionStep => ({
  name: 'mnt',
  member: 'IdmapDirectory',
  signature: 'ha{sv}',
  body: [directory, options],
  ...extra,
});
const pathFd = (p: string, mode = 'path-dir') => ({ $fd: p, mode });

rootTest.serial('container flow: a foreign directory idmapped into her namespace is hers to fill as root and as uid 1000', async (t) => {
  const inside = [
    `${NODE} ${ATTACH_CLIENT} $FD_mnt /mnt`,
    'id -u',
    'touch /mnt/by-root',
    'mkdir /mnt/home && chown 1000:1000 /mnt/home',
    'setpriv --reuid 1000 --regid 1000 --clear-groups touch /mnt/home/by-1000',
    'stat -c "%u %g" /mnt/by-root /mnt/home/by-1000',
    'grep " /mnt " /proc/self/mountinfo',
  ].join(' && ');
  const r = await runSession(
    alice,
    stack.address,
    [
      allocate('container'),
      { name: 'dir', member: 'MakeDirectory', signature: 'hsa{sv}', body: [pathFd(aliceDir), 'container', {}] },
      idmap(ref('dir'), { UserNamespace: v('h', ref('ns')), Mode: v('s', 'foreign') }),
    ],
    { then: inNamespace('ns', inside) },
  );
  ok(t, r.steps.ns);
  ok(t, r.steps.dir);
  ok(t, r.steps.mnt);
  t.is(r.then?.code, 0, r.then?.stderr);
  const lines = r.then!.stdout.trim().split('\n');
  t.is(lines[0], '0');
  t.deepEqual(lines.slice(1, 3), ['0 0', '1000 1000']);
  const options = lines[3].split(' ')[5].split(',');
  t.true(options.includes('nosuid') && options.includes('nodev') && options.includes('idmapped'), lines[3]);
  // On disk the files belong to the foreign range.
  const tree = path.join(aliceDir, 'container');
  t.is(fs.statSync(path.join(tree, 'by-root')).uid, FOREIGN_ROOT);
  t.is(fs.statSync(path.join(tree, 'by-root')).gid, FOREIGN_ROOT);
  t.is(fs.statSync(path.join(tree, 'home/by-1000')).uid, FOREIGN_ROOT + 1000);
  t.is(fs.statSync(path.join(tree, 'home/by-1000')).gid, FOREIGN_ROOT + 1000);
  // The detached mount went away with the client: nothing is left in the daemon's namespace.
  t.deepEqual(mountsBelow(stack.daemon.pid, aliceDir).map((m) => m.mountPoint), [path.join(aliceDir, 'mounted')]);
});

rootTest.serial('ReadOnly gives a read-only mount', async (t) => {
  const tree = ownedDir(aliceDir, 'ro-tree', FOREIGN_ROOT);
  const r = await runSession(alice, stack.address, [allocate('ro'), idmap(pathFd(tree), { UserNamespace: v('h', ref('ns')), ReadOnly: v('b', true) })], {
    then: inNamespace('ns', `${NODE} ${ATTACH_CLIENT} $FD_mnt /mnt && grep " /mnt " /proc/self/mountinfo && touch /mnt/x`),
  });
  ok(t, r.steps.mnt);
  t.not(r.then?.code, 0);
  t.regex(r.then!.stderr, /Read-only file system/);
  t.true(r.then!.stdout.split(' ')[5].split(',').includes('ro'));
  t.false(fs.existsSync(path.join(tree, 'x')));
});

rootTest.serial('Recursive clones submounts, locked; without it a tree with mounts below is refused, so they stay covered', async (t) => {
  const tree = ownedDir(aliceDir, 'rec-tree', alice);
  const sub = ownedDir(tree, 'sub', alice);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `uid=${alice.uid},gid=${alice.gid},mode=755`, 'tmpfs', sub]);
  try {
    fs.writeFileSync(path.join(sub, 'on-submount'), '');
    const list = 'ls -A /mnt/sub';
    const flat = await runSession(alice, stack.address, [allocate('flat'), idmap(pathFd(tree), { UserNamespace: v('h', ref('ns')) })]);
    const refused = flat.steps.mnt;
    t.false(refused?.ok);
    if (refused && !refused.ok) {
      t.is(refused.error, `${ERR}InvalidArgument`);
      t.regex(refused.message, /^options\.Recursive: .*mounts below/);
    }
    const deep = await runSession(alice, stack.address, [allocate('deep'), idmap(pathFd(tree), { UserNamespace: v('h', ref('ns')), Recursive: v('b', true) })], {
      then: inNamespace('ns', `${NODE} ${ATTACH_CLIENT} $FD_mnt /mnt && ${list} && grep " /mnt/sub " /proc/self/mountinfo`),
    });
    ok(t, deep.steps.mnt);
    const [listing, subLine] = deep.then!.stdout.trim().split('\n');
    t.is(listing, 'on-submount', deep.then?.stderr);
    // The submount is nosuid,nodev too.
    t.true(subLine.split(' ')[5].split(',').includes('nosuid') && subLine.split(' ')[5].split(',').includes('nodev'), subLine);
  } finally {
    execFileSync('umount', [sub]);
  }
});

/** A tree owned by the foreign range under alice's dir, holding an `id` binary setuid to the tree's root. */
function setuidTree(name: string, owner: number): string {
  const tree = ownedDir(aliceDir, name, owner);
  const binary = path.join(tree, 'id-suid');
  fs.copyFileSync('/usr/bin/id', binary);
  fs.chownSync(binary, owner, owner);
  fs.chmodSync(binary, 0o4755);
  return tree;
}

rootTest.serial('a setuid-root binary in a namespace gives no privilege to a non-root caller, but does to root (control)', async (t) => {
  const tree = setuidTree('suid-foreign', FOREIGN_ROOT);
  const inside = `${NODE} ${ATTACH_CLIENT} $FD_mnt /mnt && stat -c "%u %a" /mnt/id-suid && setpriv --reuid 1000 --regid 1000 --clear-groups /mnt/id-suid -u`;
  const steps = [allocate('suid'), idmap(pathFd(tree), { UserNamespace: v('h', ref('ns')), Mode: v('s', 'foreign') })];
  const asAlice = await runSession(alice, stack.address, steps, { then: inNamespace('ns', inside) });
  ok(t, asAlice.steps.mnt);
  t.is(asAlice.then?.stdout, '0 4755\n1000\n', asAlice.then?.stderr);
  // Root is not forced to nosuid: the same binary then does elevate, so the check above can fail.
  const asRoot = await runSession('root', stack.address, steps, { then: inNamespace('ns', inside) });
  ok(t, asRoot.steps.mnt);
  t.is(asRoot.then?.stdout, '0 4755\n0\n', asRoot.then?.stderr);
});

rootTest.serial('a host setuid-root binary attached for a user stays without effect (nosuid,nodev in the daemon mountinfo)', async (t) => {
  const tree = setuidTree('suid-host', 0);
  fs.chownSync(tree, alice.uid, alice.gid);
  // Control: run from its real place, the binary does make alice root.
  const direct = await runAsUser(alice, [path.join(tree, 'id-suid'), '-u']);
  t.is(direct.stdout, '0\n', direct.stderr);
  const target = ownedDir(aliceDir, 'suid-target', alice);
  const r = await callAs(alice, stack.address, 'IdmapDirectory', 'ha{sv}', [pathFd(tree), { Mode: v('s', 'identity'), AttachTo: v('h', pathFd(target)) }], {
    then: `${target}/id-suid -u`,
  });
  try {
    t.true(r.ok, r.ok ? '' : r.message);
    if (!r.ok) return;
    t.is(r.then?.stdout, `${alice.uid}\n`, r.then?.stderr);
    const [entry] = mountsBelow(stack.daemon.pid, target);
    t.truthy(entry, 'attached in the daemon namespace');
    t.true(entry.mountOptions.includes('nosuid') && entry.mountOptions.includes('nodev'), entry.mountOptions.join(','));
    const off = await callAs(alice, stack.address, 'Unmount', 'ha{sv}', [pathFd(target), {}]);
    t.true(off.ok, off.ok ? '' : off.message);
    t.deepEqual(mountsBelow(stack.daemon.pid, target), []);
  } finally {
    // A failure above must not show up again in every later test's leak check.
    if (mountsBelow(stack.daemon.pid, target).length) execFileSync('umount', ['-l', target]);
  }
});

interface Refusal {
  /** Steps before the refused call (e.g. allocating a namespace). */
  before?: SessionStep[];
  directory: () => unknown;
  options?: () => Record<string, unknown>;
  interactive?: boolean;
  /** Pass the namespace bob lent as fd 3. */
  lentNamespace?: boolean;
  error: string;
  message: RegExp;
}

const refused = test.macro({
  async exec(t, c: Refusal) {
    const r = await runSession(alice, stack.address, [...(c.before ?? []), idmap(c.directory(), c.options?.() ?? {}, { interactive: c.interactive })], {
      fds: c.lentNamespace ? [lent.fd] : undefined,
    });
    const step = r.steps.mnt;
    t.false(step.ok, 'the call should fail');
    if (step.ok) return;
    t.is(step.error, c.error.includes('.') ? c.error : ERR + c.error, step.message);
    t.regex(step.message, c.message);
    t.deepEqual(mountsBelow(stack.daemon.pid, work).map((m) => m.mountPoint), [path.join(aliceDir, 'mounted')], 'no mount left behind');
  },
  title: (title) => `IdmapDirectory refuses ${title}`,
});

const withNs = (options: Record<string, unknown> = {}) => () => ({ UserNamespace: v('h', ref('ns')), ...options });

rootSerial('a directory of another user in auto mode', refused, { directory: () => pathFd(bobDir), error: 'NotOwner', message: /^directory: owned by uid 61002/ });
rootSerial('a directory of another user in identity mode, without an administrator', refused, {
  directory: () => pathFd(bobDir),
  options: () => ({ Mode: v('s', 'identity') }),
  error: INTERACTIVE_REQUIRED,
  message: /org\.nsmount\.idmap-directory-untrusted/,
});
rootSerial('a foreign directory with no ancestor of hers (no interaction allowed)', refused, {
  before: [allocate('orphan-1')],
  directory: () => pathFd(path.join(rootDir, 'orphan')),
  options: withNs(),
  error: INTERACTIVE_REQUIRED,
  message: /org\.nsmount\.idmap-directory-untrusted/,
});
rootSerial('a foreign directory with no ancestor of hers (interaction allowed, no agent)', refused, {
  before: [allocate('orphan-2')],
  directory: () => pathFd(path.join(rootDir, 'orphan')),
  options: withNs(),
  interactive: true,
  error: 'NotAuthorizedCanObtain',
  message: /org\.nsmount\.idmap-directory-untrusted/,
});
rootSerial('the owner mode on a directory of another user', refused, {
  directory: () => pathFd(bobDir),
  options: () => ({ Mode: v('s', 'owner') }),
  error: INTERACTIVE_REQUIRED,
  message: /org\.nsmount\.idmap-directory-untrusted/,
});
rootSerial('an AttachTo directory that is not empty', refused, {
  directory: () => pathFd(aliceDir),
  options: () => ({ AttachTo: v('h', pathFd(path.join(aliceDir, 'not-empty'))) }),
  error: 'NotEmpty',
  message: /^options\.AttachTo: .*not empty/,
});
rootSerial('an AttachTo directory of another user', refused, {
  directory: () => pathFd(aliceDir),
  options: () => ({ AttachTo: v('h', pathFd(path.join(bobDir, 'target'))) }),
  error: 'NotOwner',
  message: /^options\.AttachTo: .*uid 61002/,
});
rootSerial('an AttachTo directory that is already a mount point', refused, {
  directory: () => pathFd(aliceDir),
  options: () => ({ AttachTo: v('h', pathFd(path.join(aliceDir, 'mounted'))) }),
  error: 'AlreadyMounted',
  message: /^options\.AttachTo: .*mount point/,
});
rootSerial('an AttachTo that is a regular file', refused, {
  directory: () => pathFd(aliceDir),
  options: () => ({ AttachTo: v('h', pathFd(path.join(aliceDir, 'file'), 'path')) }),
  error: 'BadFileDescriptor',
  message: /^options\.AttachTo: expected a directory, got a regular file/,
});
rootSerial("another user's namespace", refused, {
  directory: () => pathFd(path.join(aliceDir, 'container')),
  options: () => ({ UserNamespace: v('h', { $fd: 3 }) }),
  lentNamespace: true,
  error: 'WrongNamespace',
  message: /^options\.UserNamespace: .*allocated for another user/,
});
rootSerial('a user namespace nsmountd did not allocate', refused, {
  directory: () => pathFd(path.join(aliceDir, 'container')),
  options: () => ({ UserNamespace: v('h', { $fd: '/proc/self/ns/user', mode: 'r' }) }),
  error: 'WrongNamespace',
  message: /^options\.UserNamespace: not a user namespace nsmountd allocated/,
});
rootSerial('a network namespace as UserNamespace', refused, {
  directory: () => pathFd(path.join(aliceDir, 'container')),
  options: () => ({ UserNamespace: v('h', { $fd: '/proc/self/ns/net', mode: 'r' }) }),
  error: 'BadFileDescriptor',
  message: /^options\.UserNamespace: expected a user namespace, got a net namespace/,
});
rootSerial('a regular file as UserNamespace', refused, {
  directory: () => pathFd(path.join(aliceDir, 'container')),
  options: () => ({ UserNamespace: v('h', { $fd: path.join(aliceDir, 'file'), mode: 'r' }) }),
  error: 'BadFileDescriptor',
  message: /^options\.UserNamespace: expected a user namespace, got a regular file/,
});
rootSerial('a regular file as directory', refused, { directory: () => pathFd(path.join(aliceDir, 'file'), 'r'), error: 'BadFileDescriptor', message: /^directory: expected a directory, got a regular file/ });
rootSerial('a socket as directory', refused, { directory: () => pathFd(path.join(aliceDir, 'socket'), 'path'), error: 'BadFileDescriptor', message: /^directory: expected a directory, got a socket/ });
rootSerial('a pipe as directory', refused, { directory: () => pathFd(path.join(aliceDir, 'pipe'), 'path'), error: 'BadFileDescriptor', message: /^directory: expected a directory, got a pipe/ });
rootSerial('an unknown mode', refused, { directory: () => pathFd(aliceDir), options: () => ({ Mode: v('s', 'sideways') }), error: 'InvalidArgument', message: /^options\.Mode: must be one of/ });
rootSerial('the foreign mode without a namespace', refused, {
  directory: () => pathFd(path.join(aliceDir, 'container')),
  error: 'InvalidArgument',
  message: /^options\.UserNamespace: the foreign mode needs/,
});

rootTest.serial('a polkit rule granting alice the untrusted action makes the untrusted case work', async (t) => {
  await stack.polkit.setRules(`
    polkit.addRule(function (action, subject) {
      if (action.id == "org.nsmount.idmap-directory-untrusted" && subject.user == "${alice.name}" &&
          action.lookup("directory") == "${path.join(rootDir, 'orphan')}" && action.lookup("mode") == "foreign")
        return polkit.Result.YES;
    });`);
  try {
    const steps = [allocate('granted'), idmap(pathFd(path.join(rootDir, 'orphan')), withNs()())];
    const r = await runSession(alice, stack.address, steps, { then: inNamespace('ns', `${NODE} ${ATTACH_CLIENT} $FD_mnt /mnt && stat -c %u /mnt`) });
    ok(t, r.steps.mnt);
    t.is(r.then?.stdout, '0\n', r.then?.stderr);
    // The rule names alice: bob is still refused.
    const other = await runSession(bob, stack.address, steps);
    t.false(other.steps.mnt.ok);
    if (!other.steps.mnt.ok) t.is(other.steps.mnt.error, INTERACTIVE_REQUIRED);
  } finally {
    await stack.polkit.setRules('');
  }
});

rootTest.serial('root may idmap anything into any user namespace', async (t) => {
  const r = await runSession('root', stack.address, [allocate('root-any'), idmap(pathFd(path.join(rootDir, 'orphan')), withNs()())], {
    then: inNamespace('ns', `${NODE} ${ATTACH_CLIENT} $FD_mnt /mnt && grep " /mnt " /proc/self/mountinfo`),
  });
  ok(t, r.steps.mnt);
  const options = r.then!.stdout.split(' ')[5].split(',');
  t.false(options.includes('nosuid'), 'root is not forced to nosuid');
});

rootTest.serial('after all of it: no mount left in the daemon namespace and no fd leaked', async (t) => {
  t.deepEqual(mountsBelow(stack.daemon.pid, work).map((m) => m.mountPoint), [path.join(aliceDir, 'mounted')]);
  t.is(stack.daemon.fdCount(), fdsAtStart);
});
