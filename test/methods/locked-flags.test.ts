// Issue #10, items 1 and 2: no caller other than root can clear a flag of
// a mount nsmountd handed it, from a user and mount namespace of its own
// (a fresh `unshare -Urm`, or its AllocateUserNamespace namespace plus
// unshare(CLONE_NEWNS)), and it can still attach, read and write as the
// flags allow. test/clients/loosen-mount.py is the attacker.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { v } from '../helpers/call';
import { runAsUser } from '../helpers/as-user';
import { removeTree } from '../helpers/cleanup';
import { LOOSEN_CLIENT, PYTHON, parseLoosen, type LoosenFd, type LoosenTry } from '../helpers/loosen';
import { alice } from '../helpers/users';
import { makeWorkDir, ownedDir } from '../helpers/work-dirs';
import { runSession, ref, type SessionStep, type StepResult } from '../helpers/session';
import { MiB, TYPE_HOME, TYPE_ROOT_X86_64, makeExt4, makeGpt, tempDir, waitForNoLoopDevicesUnder } from '../helpers/images';
import { makeImageDirs, place, type ImageDirs } from './mount-fixture';

const HELLO = 'hello through the mount\n';

let dirs: ImageDirs;
let work: string;
const src: Record<string, string> = {};
const img: Record<string, string> = {};

test.before(async () => {
  if (rootSkipReason) return;
  dirs = makeImageDirs();
  const build = tempDir('nsmountd-locked-build-');
  img.ext4 = place(makeExt4(build, 'hello.ext4', { files: { 'hello.txt': HELLO } }), dirs.trusted);
  // Hers, so she can open it read-write; polkit lets her mount it below.
  img.rw = place(makeExt4(build, 'rw.ext4', { files: { 'hello.txt': HELLO } }), dirs.untrusted, alice);
  const rootFs = makeExt4(build, 'root.ext4', { sizeMiB: 8, files: { 'hello.txt': HELLO } });
  const homeFs = makeExt4(build, 'home.ext4', { sizeMiB: 8, files: { 'hello.txt': HELLO } });
  img.gpt = place(
    makeGpt(build, 'disk.gpt', [
      { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs },
      { type: TYPE_HOME, sizeMiB: 8, content: homeFs },
    ]).image,
    dirs.trusted,
  );
  fs.rmSync(build, { recursive: true, force: true });

  work = makeWorkDir('locked');
  const aliceDir = ownedDir(work, 'alice', alice);
  src.plain = ownedDir(aliceDir, 'plain', alice);
  // The administrator's flags on the source: noexec,nosuid,nodev come along and stay.
  src.noexec = ownedDir(aliceDir, 'noexec', alice);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `noexec,nosuid,nodev,uid=${alice.uid},gid=${alice.gid},mode=755`, 'tmpfs', src.noexec]);
  src.tree = ownedDir(aliceDir, 'tree', alice);
  const sub = ownedDir(src.tree, 'sub', alice);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `noexec,uid=${alice.uid},gid=${alice.gid},mode=755`, 'tmpfs', sub]);
  for (const dir of [src.plain, src.noexec, src.tree, sub]) {
    fs.writeFileSync(path.join(dir, 'hello.txt'), HELLO);
    fs.chownSync(path.join(dir, 'hello.txt'), alice.uid, alice.gid);
  }
  src.attachIdmap = ownedDir(aliceDir, 'attach-idmap', alice);
  src.attachImage = ownedDir(aliceDir, 'attach-image', alice);
});
const stack = useTestStack(() => ({
  config: dirs.config,
  rules: `polkit.addRule(function (action, subject) {
    if (action.id == "org.nsmount.mount-image-untrusted" && subject.user == "nsmtest-alice") return polkit.Result.YES;
  });`,
}));
test.after.always(async () => {
  if (work) {
    for (const m of [path.join(src.tree, 'sub'), src.noexec]) execFileSync('umount', ['-l', m]);
    removeTree(work);
  }
  if (dirs) fs.rmSync(dirs.base, { recursive: true, force: true });
});
test.afterEach.always(async (t) => {
  if (rootSkipReason) return;
  // The attacker has exited and closed its fds: no loop device may be left.
  t.deepEqual(await waitForNoLoopDevicesUnder(dirs.base), [], 'a loop device outlived its mounts');
});

type Where = 'fresh' | 'allocated';
const NAMESPACES: Record<Where, string> = {
  fresh: 'a fresh unshare -Urm',
  allocated: 'its AllocateUserNamespace namespace + unshare(CLONE_NEWNS)',
};

interface Case {
  /** Calls after the "ns" step; the last one, named "mnt", returns the mounts. */
  steps: SessionStep[];
  /** Which received fds to attack: indexes of the "mnt" step's fds. */
  fds: number[];
  /** Flags each mount must have before the attack. */
  flags: string[];
  /** Submounts (relative to each mount) that must hold too. */
  subs?: string[];
  /** Whether hello.txt is there to read (default: yes). */
  read?: boolean;
  /** What a write through the mount gives, where it is deterministic. */
  write?: Partial<Record<Where, string>>;
}

const pathFd = (p: string) => ({ $fd: p, mode: 'path-dir' });
let unique = 0;
const allocate = (): SessionStep => ({ name: 'ns', member: 'AllocateUserNamespace', signature: 'sua{sv}', body: [`locked-${++unique}`, 0, {}] });
const idmap = (directory: unknown, options: Record<string, unknown>): SessionStep => ({
  name: 'mnt',
  member: 'IdmapDirectory',
  signature: 'ha{sv}',
  body: [directory, options],
});
const mount = (image: string, options: Record<string, unknown>, mode = 'r'): SessionStep => ({
  name: 'mnt',
  member: 'Mount',
  signature: 'ha{sv}',
  body: [{ $fd: image, mode }, options],
});
const NS = { UserNamespace: v('h', ref('ns')) };

function ok(t: ExecutionContext, r: StepResult | undefined): void {
  if (!r?.ok) t.fail(r ? `${r.name}: ${r.error}: ${r.message}` : 'step missing');
}

/** Runs the attacker on the fds; returns its report per fd. */
async function attack(t: ExecutionContext, c: Case, where: Where): Promise<LoosenFd[]> {
  const fds = c.fds.map((i) => `$FD_mnt_${i}`).join(' ');
  const subs = (c.subs ?? []).map((s) => `--sub ${s}`).join(' ');
  const userns = where === 'allocated' ? '--userns $FD_ns' : '';
  const session = await runSession(alice, stack.address, [allocate(), ...c.steps], {
    then: `${PYTHON} ${LOOSEN_CLIENT} ${userns} --attach --read hello.txt --write new.txt ${subs} ${fds}`,
  });
  for (const step of Object.values(session.steps)) ok(t, step);
  const report = parseLoosen(session.then?.stdout ?? '');
  if (!report.fds) t.fail(`loosen-mount: ${report.error ?? session.then?.stderr}`);
  return report.fds ?? [];
}

function expectLocked(t: ExecutionContext, what: string, result: LoosenTry, flags: string[]): void {
  for (const flag of flags) t.true(result.before.includes(flag), `${what} has ${flag} (has ${result.before.join(',')})`);
  t.deepEqual(result.loosened, [], `${what}: flags changed`);
  for (const [attempt, outcome] of Object.entries(result.tries)) t.is(outcome, 'EPERM', `${what}: ${attempt}`);
}

const holds = test.macro({
  async exec(t, c: Case, where: Where) {
    const results = await attack(t, resolve(c), where);
    t.is(results.length, c.fds.length);
    for (const r of results) {
      const what = `fd ${r.fd}`;
      expectLocked(t, what, r, c.flags);
      t.is(r.attach, 'ok', `${what}: the caller can still attach it`);
      if (c.read !== false) t.is(r.read, HELLO, `${what}: and read through it`);
      for (const sub of c.subs ?? []) expectLocked(t, `${what} ${sub}`, r.subs![sub], c.flags);
      const write = c.write?.[where];
      if (write) t.is(r.write, write, `${what}: write`);
    }
  },
  title: (name = '', _c: Case, where: Where) => `${name}: locked against ${NAMESPACES[where]}`,
});

const CASES: Record<string, Case> = {
  'IdmapDirectory owner mode into her namespace': {
    steps: [idmap(pathFd('plain'), { ...NS, Mode: v('s', 'owner') })],
    fds: [0],
    flags: ['nosuid', 'nodev'],
    write: { allocated: 'ok' },
  },
  'IdmapDirectory owner mode without a namespace': {
    steps: [idmap(pathFd('plain'), { Mode: v('s', 'owner') })],
    fds: [0],
    flags: ['nosuid', 'nodev'],
    write: { fresh: 'ok' },
  },
  'IdmapDirectory identity mode': {
    steps: [idmap(pathFd('plain'), { Mode: v('s', 'identity') })],
    fds: [0],
    flags: ['nosuid', 'nodev'],
    write: { fresh: 'ok' },
  },
  'IdmapDirectory ReadOnly': {
    steps: [idmap(pathFd('plain'), { ...NS, Mode: v('s', 'owner'), ReadOnly: v('b', true) })],
    fds: [0],
    flags: ['nosuid', 'nodev', 'rdonly'],
    write: { fresh: 'EROFS', allocated: 'EROFS' },
  },
  'IdmapDirectory of a noexec,nosuid,nodev source': {
    steps: [idmap(pathFd('noexec'), { ...NS, Mode: v('s', 'owner') })],
    fds: [0],
    flags: ['nosuid', 'nodev', 'noexec'],
    write: { allocated: 'ok' },
  },
  'IdmapDirectory Recursive, with its noexec submount': {
    steps: [idmap(pathFd('tree'), { ...NS, Mode: v('s', 'owner'), Recursive: v('b', true) })],
    fds: [0],
    flags: ['nosuid', 'nodev'],
    subs: ['sub'],
    write: { allocated: 'ok' },
  },
  'IdmapDirectory foreign mode of a MakeDirectory directory': {
    steps: [
      { name: 'dir', member: 'MakeDirectory', signature: 'hsa{sv}', body: [pathFd('alice'), '$unique', {}] },
      idmap(ref('dir'), { ...NS, Mode: v('s', 'foreign') }),
    ],
    fds: [0],
    read: false,
    flags: ['nosuid', 'nodev'],
    write: { allocated: 'ok' },
  },
  'Mount read-write': {
    steps: [mount('rw', { ReadOnly: v('b', false) }, 'rw')],
    fds: [0],
    flags: ['nosuid', 'nodev'],
  },
  'Mount with UserNamespace': {
    steps: [mount('rw', { ...NS, ReadOnly: v('b', false) }, 'rw')],
    fds: [0],
    flags: ['nosuid', 'nodev'],
    write: { allocated: 'ok' },
  },
  'Mount ReadOnly': {
    steps: [mount('ext4', { ReadOnly: v('b', true) })],
    fds: [0],
    flags: ['nosuid', 'nodev', 'rdonly'],
    write: { fresh: 'EROFS', allocated: 'EROFS' },
  },
  'Mount of a GPT image, every partition': {
    steps: [mount('gpt', { ...NS, Partitions: v('as', ['root', 'home']) })],
    fds: [0, 1],
    flags: ['nosuid', 'nodev'],
  },
};

/** Paths in the cases name fixtures; resolved once the fixtures exist. */
function resolve(c: Case): Case {
  const fix = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(fix);
    if (value && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      if (typeof o.$fd === 'string') {
        const name = o.$fd;
        return { ...o, $fd: src[name] ?? img[name] ?? path.join(work, name) };
      }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, fix(x)]));
    }
    return value === '$unique' ? `made-${++unique}` : value;
  };
  return { ...c, steps: c.steps.map((s) => ({ ...s, body: fix(s.body) as unknown[] })) };
}

for (const [name, c] of Object.entries(CASES)) {
  for (const where of ['fresh', 'allocated'] as const) {
    rootSerial(name, holds, c, where);
  }
}

/** Runs the attacker as root where the test runs (the daemon's namespaces) on a path's mount. */
async function loosenHereAsRoot(t: ExecutionContext, mountPoint: string): Promise<LoosenFd> {
  const fd = fs.openSync(mountPoint, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    const r = await runAsUser('root', [PYTHON, LOOSEN_CLIENT, '--here', '3'], { fds: [fd] });
    const report = parseLoosen(r.stdout);
    if (!report.fds) t.fail(`loosen-mount: ${r.stderr}`);
    return report.fds![0];
  } finally {
    fs.closeSync(fd);
  }
}

rootSerial('AttachTo attaches the locked mount: not even root in the daemon namespace can loosen it', async (t) => {
  const session = await runSession(alice, stack.address, [
    allocate(),
    { ...idmap(pathFd(src.plain), { ...NS, Mode: v('s', 'owner'), AttachTo: v('h', pathFd(src.attachIdmap)) }), name: 'idmap' },
    { ...mount(img.ext4, { ReadOnly: v('b', true), AttachTo: v('h', pathFd(src.attachImage)) }), name: 'image' },
  ]);
  for (const step of Object.values(session.steps)) ok(t, step);
  try {
    expectLocked(t, 'attached IdmapDirectory', await loosenHereAsRoot(t, src.attachIdmap), ['nosuid', 'nodev']);
    expectLocked(t, 'attached Mount', await loosenHereAsRoot(t, src.attachImage), ['nosuid', 'nodev', 'rdonly']);
  } finally {
    for (const m of [src.attachIdmap, src.attachImage]) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
  }
});

rootSerial('root callers are unchanged: root can still loosen what it got (and so the attacker can tell)', async (t) => {
  const session = await runSession('root', stack.address, [idmap(pathFd(src.plain), { Mode: v('s', 'identity'), ReadOnly: v('b', true) })], {
    then: `${PYTHON} ${LOOSEN_CLIENT} $FD_mnt`,
  });
  ok(t, session.steps.mnt);
  const [r] = parseLoosen(session.then?.stdout ?? '').fds ?? [];
  if (!r) return t.fail(`loosen-mount: ${session.then?.stderr}`);
  t.true(r.before.includes('rdonly'));
  t.is(r.tries.rdonly, 'ok');
  t.true(r.loosened.includes('rdonly'));
});
