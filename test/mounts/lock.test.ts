// Locking a detached mount's flags (src/mounts/lock.ts, native/mount_lock.c)
// on the real kernel: the locked clone keeps every flag against root in a
// user namespace of its own, keeps its submounts locked to it, refuses to
// leave submounts out, and nothing is left behind: no fd, no mount, no child.
import test from 'ava';
import { rootSerial, rootSkipReason } from '../helpers/root';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { InvalidArgument } from '../../src/errors';
import { closeQuietly } from '../../src/native/fd';
import { moveMountTo, openTreeClone, setMountAttributes } from '../../src/native/mount-api';
import { reapLockChildren } from '../../src/native/mount-lock';
import { lockMountFlags, prepareMountLocking } from '../../src/mounts/lock';
import { makeTree, openPath, removeTree } from '../idmap/fixture';
import { runAsUser } from '../helpers/as-user';
import { LOOSEN_CLIENT, PYTHON, parseLoosen, type LoosenFd } from '../helpers/loosen';

// Mounting needs CAP_SYS_ADMIN in the initial namespaces.
const rootTest = rootSerial;

let tree: string;
let source: string;
test.before(() => {
  if (rootSkipReason) return;
  tree = makeTree('mount-lock');
  source = path.join(tree, 'source');
  fs.mkdirSync(path.join(source, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(source, 'file'), 'on the source');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'noexec', 'tmpfs', path.join(source, 'sub')]);
  prepareMountLocking();
});
test.after.always(() => {
  if (!tree) return;
  execFileSync('umount', ['-l', path.join(source, 'sub')], { stdio: 'ignore' });
  removeTree(tree);
});

/** Our fds other than Node's own pipes, sockets and event fds, which come and go with the event loop. */
function fdCount(): number {
  const targets = fs.readdirSync('/proc/self/fd').map((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return 'gone';
    }
  });
  return targets.filter((x) => !/^(pipe|socket|anon_inode):|^gone$/.test(x)).length;
}
/** Mounts of ours: other test files share this mount namespace and mount elsewhere meanwhile. */
const mountCount = () =>
  fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(tree)).length;

function cloneOf(p: string, recursive: boolean): number {
  const dir = openPath(p);
  try {
    return openTreeClone(dir, { recursive });
  } finally {
    closeQuietly(dir);
  }
}
function prepared(recursive: boolean): number {
  const fd = cloneOf(source, recursive);
  setMountAttributes(fd, { readOnly: true, nosuid: true, nodev: true, recursive });
  return fd;
}

/** loosen-mount.py as root, in a user and mount namespace of its own. */
async function loosen(fd: number, args: string[] = []): Promise<LoosenFd> {
  const r = await runAsUser('root', [PYTHON, LOOSEN_CLIENT, ...args, '3'], { fds: [fd] });
  const report = parseLoosen(r.stdout);
  if (!report.fds) throw new Error(`loosen-mount: ${report.error ?? r.stderr}`);
  return report.fds[0];
}

rootTest('a locked clone keeps every flag, even against root in a user namespace of its own, and still attaches, reads and is read-only', async (t) => {
  const locked = lockMountFlags(prepared(true), { recursive: true });
  try {
    const r = await loosen(locked, ['--attach', '--read', 'file', '--write', 'new', '--sub', 'sub']);
    t.deepEqual(r.loosened, []);
    for (const [attempt, outcome] of Object.entries(r.tries)) t.is(outcome, 'EPERM', attempt);
    t.true(r.subs!.sub.before.includes('noexec'));
    for (const [attempt, outcome] of Object.entries(r.subs!.sub.tries)) t.is(outcome, 'EPERM', `sub ${attempt}`);
    t.is(r.read, 'on the source');
    t.is(r.write, 'EROFS');
  } finally {
    closeQuietly(locked);
  }
});

rootTest('the same mount unlocked is loosened by the same attacker (control)', async (t) => {
  const fd = prepared(false);
  try {
    const r = await loosen(fd);
    t.deepEqual(r.loosened.filter((f) => f !== 'relatime').sort(), ['nodev', 'nosuid', 'rdonly']);
  } finally {
    closeQuietly(fd);
  }
});

rootTest('without recursive, a tree with submounts is refused and nothing is left behind', (t) => {
  const fds = fdCount();
  const mounts = mountCount();
  t.throws(() => lockMountFlags(prepared(true), { recursive: false }), { instanceOf: InvalidArgument, message: /^recursive: / });
  t.is(fdCount(), fds);
  t.is(mountCount(), mounts);
});

rootTest('without recursive, a tree without submounts is locked as it is', (t) => {
  const leaf = cloneOf(path.join(source, 'sub'), false);
  const locked = lockMountFlags(leaf, { recursive: false });
  t.true(locked >= 0);
  closeQuietly(locked);
});

rootTest('locking leaks no fd, leaves no mount in our namespace and no child once reaped', async (t) => {
  const fds = fdCount();
  const mounts = mountCount();
  for (let i = 0; i < 20; i++) closeQuietly(lockMountFlags(prepared(true), { recursive: true }));
  t.is(fdCount(), fds);
  t.is(mountCount(), mounts);
  // Children answer first and tear their namespaces down afterwards.
  for (let i = 0; i < 200 && reapLockChildren() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.is(reapLockChildren(), 0);
});

rootTest('a locked clone can be attached by root, and its flags hold there too', async (t) => {
  const target = path.join(tree, 'target');
  fs.mkdirSync(target);
  const locked = lockMountFlags(prepared(true), { recursive: true });
  try {
    const targetFd = openPath(target);
    moveMountTo(locked, targetFd);
    closeQuietly(targetFd);
    const here = fs.openSync(target, 'r');
    const r = await loosen(here, ['--here']);
    fs.closeSync(here);
    for (const [attempt, outcome] of Object.entries(r.tries)) t.is(outcome, 'EPERM', attempt);
  } finally {
    closeQuietly(locked);
    execFileSync('umount', ['-l', target]);
  }
});
