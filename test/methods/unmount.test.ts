import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v, type CallResult } from '../helpers/call';
import { removeTree } from '../helpers/cleanup';
import { CALL_CLIENT } from '../helpers/paths';
import { alice, bob, type TestUser } from '../helpers/users';
import { runAsUser } from '../helpers/as-user';
import { makeWorkDir, ownedDir, mountsBelow } from '../helpers/work-dirs';
import { mountIdOf } from '../../src/native/mount-api';
import { O_DIRECTORY, O_PATH } from '../../src/native/dirfd';

const ERR = 'org.nsmount.NsMount1.Error.';
const INTERACTIVE_REQUIRED = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired';
const FOREIGN_ROOT = 2147352576;

type Mount = [string, number, string, string, number | string];

let work: string;
let aliceDir: string;
let fdsAtStart: number;

test.after.always(async () => {
  if (work) removeTree(work);
});
// No polkit rule: a foreign-owned home below a directory alice owns is hers by default.
const stack = useTestStack();
test.before(async () => {
  if (rootSkipReason) return;
  work = makeWorkDir('unmount');
  aliceDir = ownedDir(work, 'alice', alice);
  await callAs(alice, stack.address, 'ListMounts', 'a{sv}', [{}]);
  fdsAtStart = stack.daemon.fdCount();
});

function expectOk(t: ExecutionContext, r: CallResult): Extract<CallResult, { ok: true }> {
  if (!r.ok) t.fail(`${r.name}: ${r.message}`);
  return r as Extract<CallResult, { ok: true }>;
}

function expectError(t: ExecutionContext, r: CallResult, name: string, pattern: RegExp): void {
  t.false(r.ok, 'the call should fail');
  if (r.ok) return;
  t.is(r.name, name.includes('.') ? name : ERR + name, r.message);
  t.regex(r.message, pattern);
}

const pathFd = (p: string) => ({ $fd: p, mode: 'path-dir' });
const listMounts = async (t: ExecutionContext, user: TestUser | 'root') => expectOk(t, await callAs(user, stack.address, 'ListMounts', 'a{sv}', [{}])).body[0] as Mount[];
const unmount = (user: TestUser | 'root', mountPoint: string, opts: { interactive?: boolean } = {}) =>
  callAs(user, stack.address, 'Unmount', 'ha{sv}', [pathFd(mountPoint), {}], opts);
const attach = (user: TestUser | 'root', directory: string, target: string, mode = 'auto', then?: string) =>
  callAs(user, stack.address, 'IdmapDirectory', 'ha{sv}', [pathFd(directory), { Mode: v('s', mode), AttachTo: v('h', pathFd(target)) }], { then });

function uniqueMountId(p: string): string {
  const fd = fs.openSync(p, O_PATH | O_DIRECTORY);
  try {
    return mountIdOf(fd).toString();
  } finally {
    fs.closeSync(fd);
  }
}

/** A foreign-owned tree made through MakeDirectory in alice's directory, with one foreign-root file in it. */
async function portableHome(t: ExecutionContext, name: string): Promise<string> {
  expectOk(t, await callAs(alice, stack.address, 'MakeDirectory', 'hsa{sv}', [pathFd(aliceDir), name, {}]));
  const home = path.join(aliceDir, name);
  fs.writeFileSync(path.join(home, 'notes'), 'hello');
  fs.chownSync(path.join(home, 'notes'), FOREIGN_ROOT, FOREIGN_ROOT);
  fs.mkdirSync(path.join(home, 'sub'));
  fs.chownSync(path.join(home, 'sub'), FOREIGN_ROOT, FOREIGN_ROOT);
  return home;
}

rootTest.serial('portable home: attached with Mode=owner she sees her files, new ones land as the foreign root, Unmount detaches', async (t) => {
  const home = await portableHome(t, 'home');
  const target = ownedDir(aliceDir, 'mnt', alice);
  // Runs after the reply: the attachment must already be listed then.
  const listAfterReply = `node ${CALL_CLIENT} --address '${stack.address}' --member ListMounts --signature 'a{sv}' --body '[{}]'`;
  const r = expectOk(
    t,
    await attach(alice, home, target, 'owner', `stat -c %u ${target}/notes && echo written >${target}/new && stat -c %u ${target}/new && ${listAfterReply}`),
  );
  const [notesOwner, newOwner, listing] = r.then!.stdout.trim().split('\n');
  t.is(notesOwner, String(alice.uid), r.then?.stderr);
  t.is(newOwner, String(alice.uid));
  t.true((JSON.parse(listing).body[0] as Mount[]).some((m) => m[0] === target), 'recorded before the reply');
  t.is(fs.statSync(path.join(home, 'new')).uid, FOREIGN_ROOT);
  t.is(fs.statSync(path.join(home, 'new')).gid, FOREIGN_ROOT);

  const [entry] = mountsBelow(stack.daemon.pid, target);
  t.truthy(entry);
  for (const option of ['nosuid', 'nodev', 'idmapped']) t.true(entry.mountOptions.includes(option), `${option} in ${entry.mountOptions.join(',')}`);

  const id = uniqueMountId(target);
  t.deepEqual((await listMounts(t, alice)).filter((m) => m[0] === target), [[target, alice.uid, home, 'directory', Number(id)]]);
  t.false((await listMounts(t, bob)).some((m) => m[0] === target), 'bob does not see it');
  t.true((await listMounts(t, 'root')).some((m) => m[0] === target), 'root sees it');

  expectError(t, await unmount(bob, target), INTERACTIVE_REQUIRED, /org\.nsmount\.unmount-others/);
  expectError(t, await unmount(bob, target, { interactive: true }), 'NotAuthorizedCanObtain', /org\.nsmount\.unmount-others/);
  expectError(t, await unmount(alice, path.join(target, 'sub')), 'NotFound', /^mount_point: .*not at its root/);
  t.is(mountsBelow(stack.daemon.pid, target).length, 1, 'the refusals left it mounted');

  expectOk(t, await unmount(alice, target));
  t.deepEqual(mountsBelow(stack.daemon.pid, target), []);
  t.false((await listMounts(t, alice)).some((m) => m[0] === target));
  expectError(t, await unmount(alice, target), 'NotFound', /^mount_point: .*nsmountd did not attach/);
  t.is(fs.readFileSync(path.join(home, 'new'), 'utf8'), 'written\n');
});

rootTest.serial('Unmount refuses a mount nsmountd did not attach and leaves it alone', async (t) => {
  const target = ownedDir(aliceDir, 'foreign-mount', alice);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `uid=${alice.uid},gid=${alice.gid}`, 'tmpfs', target]);
  try {
    expectError(t, await unmount(alice, target), 'NotFound', /^mount_point: nsmountd did not attach anything there, so there is nothing to unmount$/);
    expectError(t, await unmount('root', target), 'NotFound', /nsmountd did not attach/);
    t.is(mountsBelow(stack.daemon.pid, target).length, 1);
  } finally {
    execFileSync('umount', [target]);
  }
});

rootTest.serial("root may unmount another user's attachment", async (t) => {
  const home = await portableHome(t, 'home-root');
  const target = ownedDir(aliceDir, 'mnt-root', alice);
  expectOk(t, await attach(alice, home, target, 'owner'));
  expectOk(t, await unmount('root', target));
  t.deepEqual(mountsBelow(stack.daemon.pid, target), []);
  t.false((await listMounts(t, 'root')).some((m) => m[0] === target));
});

rootTest.serial('an attachment unmounted behind the running daemon leaves ListMounts at once', async (t) => {
  const home = await portableHome(t, 'home-behind');
  const target = ownedDir(aliceDir, 'mnt-behind', alice);
  const other = ownedDir(aliceDir, 'mnt-behind-kept', alice);
  const otherHome = await portableHome(t, 'home-behind-kept');
  expectOk(t, await attach(alice, home, target, 'owner'));
  expectOk(t, await attach(alice, otherHome, other, 'owner'));
  execFileSync('umount', [target]);
  const listed = (await listMounts(t, alice)).map((m) => m[0]);
  t.false(listed.includes(target), 'the unmounted one is gone without a restart');
  t.true(listed.includes(other), 'the other one is still listed');
  expectOk(t, await unmount(alice, other));
});

rootTest.serial('an attachment whose ancestor was renamed is listed at its new path and unmounts, also after a restart', async (t) => {
  const home = await portableHome(t, 'home-renamed');
  const above = ownedDir(aliceDir, 'above', alice);
  const target = ownedDir(above, 'mnt', alice);
  expectOk(t, await attach(alice, home, target, 'owner'));
  const id = Number(uniqueMountId(target));
  const renamed = path.join(aliceDir, 'above-renamed');
  const moved = path.join(renamed, 'mnt');
  // alice owns the directory above her mount point: she may rename it.
  const mv = await runAsUser(alice, ['mv', above, renamed]);
  t.is(mv.code, 0, mv.stderr);
  const listed = async () => (await listMounts(t, alice)).filter((m) => Number(m[4]) === id);
  t.deepEqual(await listed(), [[moved, alice.uid, home, 'directory', id]]);
  await stack.daemon.restart();
  t.deepEqual(await listed(), [[moved, alice.uid, home, 'directory', id]], 'start-up reconcile keeps it too');
  expectOk(t, await unmount(alice, moved));
  t.deepEqual(mountsBelow(stack.daemon.pid, renamed), []);
  t.deepEqual(await listed(), []);
});

rootTest.serial('when the registry cannot be written the attachment is undone', async (t) => {
  const home = await portableHome(t, 'home-readonly-registry');
  const target = ownedDir(aliceDir, 'mnt-readonly-registry', alice);
  // Even root cannot create a file in an immutable directory, nor write an immutable file (the journal).
  const immutable = [stack.stateDir, ...fs.readdirSync(stack.stateDir).map((name) => path.join(stack.stateDir, name))];
  execFileSync('chattr', ['+i', ...immutable]);
  let r: CallResult;
  try {
    r = await attach(alice, home, target, 'owner');
  } finally {
    execFileSync('chattr', ['-i', ...immutable]);
  }
  expectError(t, r, 'System', /^nsmountd could not save its records, because .*nsmountd log\.$/);
  t.deepEqual(mountsBelow(stack.daemon.pid, target), [], 'no mount left behind');
  t.false((await listMounts(t, 'root')).some((m) => m[0] === target), 'no registry entry');
});

rootTest.serial('no mount and no fd left behind in the daemon', async (t) => {
  t.deepEqual(mountsBelow(stack.daemon.pid, work), []);
  t.is(stack.daemon.fdCount(), fdsAtStart);
});

rootTest.serial('after a restart attachments still mounted are kept and ones unmounted behind its back are dropped', async (t) => {
  const kept = ownedDir(aliceDir, 'kept', alice);
  const lost = ownedDir(aliceDir, 'lost', alice);
  const keptHome = await portableHome(t, 'home-kept');
  const lostHome = await portableHome(t, 'home-lost');
  expectOk(t, await attach(alice, keptHome, kept, 'owner'));
  expectOk(t, await attach(alice, lostHome, lost, 'owner'));
  const targets = async () => (await listMounts(t, alice)).map((m) => m[0]).sort();

  await stack.daemon.restart();
  t.deepEqual(await targets(), [kept, lost]);

  execFileSync('umount', [lost]);
  await stack.daemon.restart();
  t.deepEqual(await targets(), [kept]);
  t.true(stack.daemon.logs.some((l) => l.includes('forgot an attachment that is no longer mounted') && l.includes(lost)));

  // The kept one is still known by its unique id: its owner can unmount it.
  expectOk(t, await unmount(alice, kept));
  t.deepEqual(mountsBelow(stack.daemon.pid, work), []);
  t.deepEqual(await targets(), []);
});
