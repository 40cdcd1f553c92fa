// IdmapDirectory's mount options: ReadOnly, Recursive, and the nosuid,nodev
// that keeps a setuid binary from elevating a non-root caller.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootSkipReason, rootTest } from '../helpers/root';
import { callAs, v } from '../helpers/call';
import { runAsUser } from '../helpers/as-user';
import { alice } from '../helpers/users';
import { ownedDir, mountsBelow } from '../helpers/work-dirs';
import { runSession, ref, inNamespace, ATTACH_CLIENT } from '../helpers/session';
import { aliceDir, allocate, ERR, fdsAtStart, FOREIGN_ROOT, idmap, NODE, ok, pathFd, useIdmapStack, work } from './idmap-directory-fixture';

const stack = useIdmapStack();

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

// These tests were split from the access tests, whose last test checks that
// nothing leaked; this file's stack gets the same check once its tests ran.
test.serial.after(async (t) => {
  if (rootSkipReason) return;
  t.deepEqual(mountsBelow(stack.daemon.pid, work).map((m) => m.mountPoint), [path.join(aliceDir, 'mounted')]);
  t.is(stack.daemon.fdCount(), fdsAtStart);
});
