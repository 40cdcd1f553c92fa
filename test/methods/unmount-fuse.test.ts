// Unmount of attachments that involve a FUSE file system whose server
// stops answering: attached on a directory of it, cloned from a directory
// of it, and an image on it mounted read-write (ext4 on a loop device whose
// file is on FUSE: unmounting may write back). alice attaches while the
// server answers; then the server holds every request, closes included,
// and alice unmounts through an fd of the mount point opened before.
// bob's Ping must be answered meanwhile, and once the server answers
// nothing is left: no mount at the target, no record, no fd.
//
// Unmount asks none of these file systems anything: its checks read cached
// attributes (statx), umount2 follows the /proc/self/fd magic link (FUSE
// has no d_weak_revalidate) and MNT_DETACH only unhooks the mount. The
// server saw no request; these cases guard that it stays so.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootSkipReason, rootTest } from '../helpers/root';
import { callAs, v } from '../helpers/call';
import { alice } from '../helpers/users';
import { runAsUser } from '../helpers/as-user';
import { PACKAGE_ROOT } from '../helpers/paths';
import { allowUntrustedImages } from '../helpers/polkit-rules';
import { loopDevicesUnder, waitForNoLoopDevicesUnder } from '../helpers/images';
import { callWithFds, delay, pingAsBob, useHangingFuse, type FdCall } from './fuse-fixture';

const fixture = useHangingFuse({ config: '[daemon]\nio_timeout_sec = 2\n', rules: allowUntrustedImages(alice) }, { writable: true });
const { stack, fuse } = fixture;

/** alice's directory on the local disk, for local sources and targets. */
let local: string;
test.before(() => {
  if (rootSkipReason) return;
  local = path.join(fixture.base(), 'local');
  fs.mkdirSync(local, { mode: 0o755 });
  fs.chownSync(local, alice.uid, alice.gid);
});

function aliceDir(name: string): string {
  const dir = path.join(local, name);
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chownSync(dir, alice.uid, alice.gid);
  return dir;
}

const openDir = (dir: string) => fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);

function mountsAt(target: string): string[] {
  return fs
    .readFileSync(`/proc/${stack.daemon.pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter((line) => line.split(' ')[4] === target);
}

interface Case {
  /** alice's attaching call: fds 3 (source) and 4 (target). */
  attach: FdCall;
  openSource: () => number;
  target: () => string;
}

const idmapAttach: FdCall = { member: 'IdmapDirectory', signature: 'ha{sv}', body: [{ $fd: 3 }, { Mode: v('s', 'identity'), AttachTo: v('h', { $fd: 4 }) }] };
const UNMOUNT: FdCall = { member: 'Unmount', signature: 'ha{sv}', body: [{ $fd: 3 }, {}] };

async function unmountWhileHeld(t: ExecutionContext, c: Case): Promise<void> {
  const target = c.target();
  const fds = [c.openSource(), openDir(target)];
  let mountPoint: number | undefined;
  let released = false;
  // Before the attach: its message fds on FUSE are closed on the pool, a little later.
  const fdsBefore = stack.daemon.fdCount();
  try {
    const attached = await callWithFds(alice, stack.address, c.attach, fds, 30000);
    t.like(attached, { ok: true }, 'attached while the server answers');
    t.is(mountsAt(target).length, 1);
    // Closed before the server hangs: a child this process starts holds
    // its fds until exec, and closing a file on the server there waits
    // for FLUSH.
    for (const fd of fds.splice(0)) fs.closeSync(fd);
    mountPoint = fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    await fuse().hang({ closes: true });
    const answer = callWithFds(alice, stack.address, UNMOUNT, [mountPoint], 30000);
    // Whether or not the Unmount waits on the server, bob is answered.
    await delay(300);
    const ping = await pingAsBob(stack.address);
    t.true(ping.ok, `bob's Ping while alice's Unmount runs with the server held: ${JSON.stringify(ping)}`);
    const result = await answer;
    t.like(result, { ok: true }, 'the Unmount');
    await fuse().release();
    released = true;
    for (let i = 0; i < 100 && stack.daemon.fdCount() > fdsBefore; i++) await delay(50);
    t.is(stack.daemon.fdCount(), fdsBefore, "the daemon's fds");
    t.deepEqual(mountsAt(target), [], 'mounts at the target');
    const listed = await callAs(alice, stack.address, 'ListMounts', 'a{sv}', [{}]);
    t.like(listed, { ok: true, body: [[]] });
  } finally {
    if (!released) await fuse().release();
    // Closed only now: the last fd of a detached mount of an image on the
    // server writes back when it goes, and this process must not wait.
    if (mountPoint !== undefined) fs.closeSync(mountPoint);
    for (const fd of fds) fs.closeSync(fd);
  }
}

rootTest.serial('Unmount of a local directory attached on a directory of a hanging FUSE file system', async (t) => {
  await unmountWhileHeld(t, {
    attach: idmapAttach,
    openSource: () => openDir(aliceDir('source-a')),
    target: () => path.join(fuse().directory, 'sub'),
  });
});

rootTest.serial('Unmount of a directory of a hanging FUSE file system attached on a local directory', async (t) => {
  await unmountWhileHeld(t, {
    attach: idmapAttach,
    openSource: () => openDir(fuse().directory),
    target: () => aliceDir('target-b'),
  });
});

rootTest.serial('Unmount of a read-write image on a hanging FUSE file system attached on a local directory', async (t) => {
  await unmountWhileHeld(t, {
    attach: { member: 'Mount', signature: 'ha{sv}', body: [{ $fd: 3 }, { ReadOnly: v('b', false), AttachTo: v('h', { $fd: 4 }) }] },
    openSource: () => fs.openSync(fuse().image, 'r+'),
    target: () => aliceDir('target-c'),
  });
  // This process's fd of the mount point was the last reference; autoclear trails its close.
  t.deepEqual(await waitForNoLoopDevicesUnder(fixture.base()), [], 'loop devices of the image');
});

// The last reference: when the caller keeps no fd of the mount point once
// its Unmount is sent (test/clients/unmount-letting-go.py), the daemon's
// copy of it is the detached mount's last reference, and closing it shuts
// the ext4 down, which writes to the loop device, whose file is on the
// server. That close used to happen on Node's thread: bob's Ping got no
// answer until the server did.
const LETTING_GO = path.join(PACKAGE_ROOT, 'test/clients/unmount-letting-go.py');

rootTest.serial("Unmount of a read-write image on a hanging FUSE file system, the daemon's fd being its last reference", async (t) => {
  const target = aliceDir('target-d');
  const fds = [fs.openSync(fuse().image, 'r+'), openDir(target)];
  const attach: FdCall = { member: 'Mount', signature: 'ha{sv}', body: [{ $fd: 3 }, { ReadOnly: v('b', false), AttachTo: v('h', { $fd: 4 }) }] };
  const attached = await callWithFds(alice, stack.address, attach, fds, 30000);
  for (const fd of fds) fs.closeSync(fd);
  t.like(attached, { ok: true }, 'attached while the server answers');
  const mountPoint = fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  let released = false;
  try {
    await fuse().hang({ closes: true });
    const client = runAsUser(alice, ['/usr/bin/python3', LETTING_GO, stack.address], { fds: [mountPoint], timeoutMs: 90000 });
    // The client has its own copy now.
    fs.closeSync(mountPoint);
    await fuse().waitForHeld({ timeoutMs: 20000 });
    const ping = await pingAsBob(stack.address);
    t.true(ping.ok, `bob's Ping while the last fd of alice's unmounted image closes: ${JSON.stringify(ping)}`);
    const result = await client;
    t.like(JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}'), { ok: true }, 'the Unmount');
    await fuse().release();
    released = true;
    for (let i = 0; i < 200 && loopDevicesUnder(fixture.base()).length > 0; i++) await delay(50);
    t.deepEqual(loopDevicesUnder(fixture.base()), [], 'loop devices of the image');
    t.deepEqual(mountsAt(target), [], 'mounts at the target');
  } finally {
    if (!released) await fuse().release();
  }
});
