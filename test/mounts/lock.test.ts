// Locking a detached mount's flags (src/mounts/lock.ts, native/mount_lock.c)
// on the real kernel: the locked clone keeps every flag against root in a
// user namespace of its own, keeps its submounts locked to it, refuses to
// leave submounts out, and nothing is left behind: no fd, no mount, no child.
import test from 'ava';
import { rootSerial, rootSkipReason } from '../helpers/root';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
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

/** Our mount namespace fds other than our own namespace: the staging and lock namespaces. */
function heldMountNamespaces(): number[] {
  const ours = fs.readlinkSync('/proc/self/ns/mnt');
  return fs
    .readdirSync('/proc/self/fd')
    .map(Number)
    .filter((fd) => {
      try {
        const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
        return target.startsWith('mnt:') && target !== ours;
      } catch {
        return false;
      }
    });
}

// Enters the namespace on fd 3 and names the entries of its root that have
// something mounted on them (another filesystem than the root's).
const MOUNTED_IN_NAMESPACE = `
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.setns(3, 0x00020000) != 0:
    sys.exit('setns: ' + os.strerror(ctypes.get_errno()))
root = os.stat('/').st_dev
print(json.dumps(sorted(n for n in os.listdir('/') if os.stat('/' + n).st_dev != root)))
`;
function mountedIn(namespaceFd: number): string[] {
  const r = spawnSync(PYTHON, ['-c', MOUNTED_IN_NAMESPACE], { stdio: ['ignore', 'pipe', 'pipe', namespaceFd], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`checking a namespace: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

rootTest('once its children are reaped, nothing stays attached in the staging or lock namespace, failed calls included', async (t) => {
  for (let i = 0; i < 10; i++) closeQuietly(lockMountFlags(prepared(true), { recursive: true }));
  t.throws(() => lockMountFlags(prepared(true), { recursive: false }), { instanceOf: InvalidArgument });
  for (let i = 0; i < 200 && reapLockChildren() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  const namespaces = heldMountNamespaces();
  t.is(namespaces.length, 2, 'the staging and the lock namespace');
  for (const fd of namespaces) t.deepEqual(mountedIn(fd), [], `mount namespace on fd ${fd}`);
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
