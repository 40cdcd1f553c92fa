// The fuzz harness shared by fuzz.test.ts and regressions.test.ts: a stack
// with a tiny uid pool and quota (so RangeExhausted and QuotaExceeded come
// up), polkit rules that give each test user a different answer, a workspace
// of files, images and devices per user, and the checks that the daemon came
// out of it as it went in.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestStack, type TestStack } from '../helpers/stack';
import { runAsUser } from '../helpers/as-user';
import { alice, bob, carol, dave, type TestUser } from '../helpers/users';
import { makeExt4, makeGpt, TYPE_ROOT_X86_64 } from '../helpers/images';
import { PACKAGE_ROOT, SERVICE_NAME } from '../helpers/paths';
import { callBus } from '../../src/stack/bus-connection';
import { FD_ZOO_PROLOGUE, PYTHON } from './fd-zoo';
import type { FuzzEnv, FuzzSummary } from './types';
import { RegistryStore } from '../../src/registry/store';

export const FUZZ_CLIENT = path.join(PACKAGE_ROOT, 'dist/test/clients/fuzz.js');
export const SEEDS_DIR = path.join(PACKAGE_ROOT, 'test/fuzz/seeds');
const FOREIGN_UID = 2147352576;
const BLOCK = 65536;
/** Eight blocks below every test user's subordinate range: four users with a quota of three run it dry. */
export const POOL = { first: 8 * BLOCK, last: 16 * BLOCK - 1 };
const QUOTA = 3;

/** How each user is answered; dave is refused everything, so any success for him is a bug. */
export const FUZZ_USERS: ReadonlyArray<{ user: TestUser; denied: boolean }> = [
  { user: alice, denied: false },
  { user: bob, denied: false },
  { user: carol, denied: false },
  { user: dave, denied: true },
];

const RULES = `polkit.addRule(function (action, subject) {
  if (action.id.indexOf("org.nsmount.") !== 0) return;
  if (subject.user == "nsmtest-dave") return polkit.Result.NO;
  // carol may do everything, untrusted images and others' directories too,
  // so those code paths are reached; alice and bob get the defaults.
  if (subject.isInGroup("nsmtest-admins")) return polkit.Result.YES;
});`;

export interface FuzzStack {
  stack: TestStack;
  dir: string;
  /** Names this run's memfds, to find their loop devices. */
  token: string;
  loopDevice: string;
  envFiles: Map<string, string>;
  stop(): Promise<void>;
}

function chownTree(p: string, uid: number, gid: number): void {
  fs.chownSync(p, uid, gid);
  if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), uid, gid);
}

export async function startFuzzStack(): Promise<FuzzStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-fuzz-'));
  fs.chmodSync(dir, 0o755);
  const token = `nsmfuzz${crypto.randomBytes(4).toString('hex')}`;
  const build = path.join(dir, 'build');
  fs.mkdirSync(build);
  const images = path.join(dir, 'images');
  fs.mkdirSync(images, { mode: 0o755 });
  const template = makeExt4(build, 'template.ext4', { sizeMiB: 8, files: { 'hello.txt': 'fuzz\n', 'sub/x': 'x' } });
  const trustedImage = path.join(images, 'trusted.ext4');
  fs.copyFileSync(template, trustedImage);
  fs.chmodSync(trustedImage, 0o644);
  const rootOnlyImage = path.join(images, 'root-only.ext4');
  fs.copyFileSync(template, rootOnlyImage);
  fs.chmodSync(rootOnlyImage, 0o600);
  const gpt = makeGpt(build, 'template.gpt', [{ type: TYPE_ROOT_X86_64, sizeMiB: 8, content: template }]).image;
  const loopImage = path.join(dir, 'loop.ext4');
  fs.copyFileSync(template, loopImage);
  const loopDevice = execFileSync('losetup', ['--find', '--show', loopImage], { encoding: 'utf8' }).trim();
  const rootOnlyDir = path.join(dir, 'root-only');
  fs.mkdirSync(rootOnlyDir, { mode: 0o700 });
  const foreignOrphan = path.join(dir, 'foreign-orphan');
  fs.mkdirSync(foreignOrphan);
  fs.chownSync(foreignOrphan, FOREIGN_UID, FOREIGN_UID);

  const envFiles = new Map<string, string>();
  const homeOf = (u: TestUser) => path.join(dir, 'home', u.name);
  fs.mkdirSync(path.join(dir, 'home'), { mode: 0o755 });
  fs.mkdirSync(path.join(dir, 'attach'), { mode: 0o755 });
  FUZZ_USERS.forEach(({ user }, i) => {
    const home = homeOf(user);
    fs.mkdirSync(home, { mode: 0o755 });
    fs.writeFileSync(path.join(home, 'file.txt'), 'fuzz\n');
    fs.symlinkSync('file.txt', path.join(home, 'link'));
    execFileSync('mkfifo', [path.join(home, 'fifo')]);
    fs.mkdirSync(path.join(home, 'nonempty'));
    fs.writeFileSync(path.join(home, 'nonempty', 'x'), 'x');
    const own = path.join(home, 'images');
    fs.mkdirSync(own);
    fs.copyFileSync(template, path.join(own, 'own.ext4'));
    fs.copyFileSync(gpt, path.join(own, 'own.gpt'));
    fs.writeFileSync(path.join(own, 'garbage.img'), crypto.randomBytes(1 << 20));
    fs.writeFileSync(path.join(own, 'truncated.ext4'), fs.readFileSync(template).subarray(0, 64 * 1024));
    fs.writeFileSync(path.join(own, 'empty.img'), '');
    chownTree(home, user.uid, user.gid);
    // A portable-home style foreign directory below the user's own.
    fs.mkdirSync(path.join(home, 'foreign'));
    fs.chownSync(path.join(home, 'foreign'), FOREIGN_UID, FOREIGN_UID);
    const attachRoot = path.join(dir, 'attach', user.name);
    fs.mkdirSync(attachRoot, { mode: 0o755 });
    fs.chownSync(attachRoot, user.uid, user.gid);
    const env: FuzzEnv = {
      home,
      attachRoot,
      otherUserDir: homeOf(FUZZ_USERS[(i + 1) % FUZZ_USERS.length].user),
      foreignOrphan,
      tmp: os.tmpdir(),
      loopDevice,
      trustedImage,
      images: {
        ext4: path.join(own, 'own.ext4'),
        gpt: path.join(own, 'own.gpt'),
        garbage: path.join(own, 'garbage.img'),
        truncated: path.join(own, 'truncated.ext4'),
        empty: path.join(own, 'empty.img'),
      },
    };
    const file = path.join(dir, `env-${user.name}.json`);
    fs.writeFileSync(file, JSON.stringify(env), { mode: 0o644 });
    envFiles.set(user.name, file);
  });
  fs.rmSync(build, { recursive: true, force: true });

  const config = `[images]\ndirectories = [${JSON.stringify(images)}]\n[pool]\nfirst = ${POOL.first}\nlast = ${POOL.last}\nquota_per_uid = ${QUOTA}\nreclaim_interval_sec = 1\n`;
  let stack: TestStack;
  try {
    stack = await startTestStack({ config, rules: RULES });
  } catch (err) {
    execFileSync('losetup', ['-d', loopDevice]);
    throw err;
  }
  const rootFds = {
    'block-loop': fs.openSync(loopDevice, fs.constants.O_RDWR),
    'image-root-only': fs.openSync(rootOnlyImage, fs.constants.O_RDONLY),
    'dir-root-only': fs.openSync(rootOnlyDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY),
  };
  const fuzzStack: FuzzStack & { rootFds: typeof rootFds } = {
    stack,
    dir,
    token,
    loopDevice,
    envFiles,
    rootFds,
    async stop() {
      for (const fd of Object.values(rootFds)) fs.closeSync(fd);
      try {
        await stack.stop();
      } finally {
        // stack.stop() unmounts what was left below its own dir; ours may hold attachments too.
        execFileSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null; losetup -d ${loopDevice} || true`]);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  return fuzzStack;
}

export interface ClientRun {
  user: TestUser;
  denied: boolean;
  seed: number;
  count?: number;
  seconds: number;
  concurrency: number;
  log?: string;
}

/** Runs one fuzz client to completion and returns its summary. */
export async function runFuzzClient(f: FuzzStack, run: ClientRun): Promise<FuzzSummary> {
  const { rootFds } = f as FuzzStack & { rootFds: Record<string, number> };
  const kinds = Object.keys(rootFds);
  const argv = [
    PYTHON,
    '-c',
    FD_ZOO_PROLOGUE,
    process.execPath,
    FUZZ_CLIENT,
    '--address',
    f.stack.address,
    '--env',
    f.envFiles.get(run.user.name)!,
    '--seed',
    String(run.seed),
    '--seconds',
    String(run.seconds),
    '--concurrency',
    String(run.concurrency),
  ];
  if (run.count !== undefined) argv.push('--count', String(run.count));
  if (run.log) argv.push('--log', run.log);
  if (run.denied) argv.push('--denied');
  const result = await runAsUser(run.user, argv, {
    fds: kinds.map((k) => rootFds[k]),
    env: {
      NSM_FUZZ_FDS: JSON.stringify(Object.fromEntries(kinds.map((k, i) => [k, 3 + i]))),
      NSM_FUZZ_TOKEN: f.token,
      NSM_FUZZ_MEMFD_IMAGE: JSON.parse(fs.readFileSync(f.envFiles.get(run.user.name)!, 'utf8')).images.ext4,
    },
    timeoutMs: run.seconds * 1000 + 120000,
  });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  let summary: FuzzSummary & { fatal?: string };
  try {
    summary = JSON.parse(line);
  } catch {
    throw new Error(`fuzz client as ${run.user.name} printed no summary (exit ${result.code}, signal ${result.signal}):\n${result.stdout.slice(-2000)}\n${result.stderr.slice(-4000)}`);
  }
  if (summary.fatal) throw new Error(`fuzz client as ${run.user.name} failed: ${summary.fatal}\n${result.stderr.slice(-4000)}`);
  return summary;
}

export interface Baseline {
  pid: number;
  fds: number;
  mounts: string[];
  loops: string[];
  logLines: number;
}

/** Mount points below this run's directories, as the daemon sees them. */
function ourMounts(f: FuzzStack): string[] {
  const roots = [f.dir, f.stack.baseDir];
  return fs
    .readFileSync(`/proc/${f.stack.daemon.pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4].replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((mp) => roots.some((r) => mp === r || mp.startsWith(r + '/')))
    .sort();
}

/** Loop devices backed by this run's files or memfds (other test files use loop devices too). */
function ourLoops(f: FuzzStack): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
    let backing: string;
    try {
      backing = fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
    } catch {
      continue; // not bound
    }
    if (backing.startsWith(f.dir + '/') || backing.includes(f.token) || backing === f.loopDevice) out.push(`${name}:${backing}`);
  }
  return out.sort();
}

export function takeBaseline(f: FuzzStack): Baseline {
  return { pid: f.stack.daemon.pid, fds: f.stack.daemon.fdCount(), mounts: ourMounts(f), loops: ourLoops(f), logLines: f.stack.daemon.logs.length };
}

/** What differs from the baseline once the daemon settled; empty when nothing does. */
export async function differencesAfter(f: FuzzStack, baseline: Baseline, settleMs = 15000): Promise<string[]> {
  const problems: string[] = [];
  const pid = f.stack.daemon.pid;
  let alive = true;
  try {
    process.kill(baseline.pid, 0);
  } catch {
    alive = false;
  }
  if (!alive || pid !== baseline.pid) return [`the daemon (pid ${baseline.pid}) is gone${pid !== baseline.pid ? `; pid is now ${pid}` : ''}`];
  const [owner] = await callBus(f.stack.connection, 'GetConnectionUnixProcessID', 's', [SERVICE_NAME]).catch((e: Error) => [e.message]);
  if (owner !== baseline.pid) problems.push(`${SERVICE_NAME} is owned by pid ${String(owner)}, not the daemon ${baseline.pid}`);

  // Loop autoclear, namespace teardown and the reclaim sweep are asynchronous: poll.
  const deadline = Date.now() + settleMs;
  let now = takeBaseline(f);
  let registry = registryProblems(f, { settled: true });
  // Fewer fds than at the start is no leak: the baseline may have caught one in flight.
  const same = () => now.fds <= baseline.fds && equal(now.mounts, baseline.mounts) && equal(now.loops, baseline.loops) && registry.length === 0;
  while (!same() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    now = takeBaseline(f);
    registry = registryProblems(f, { settled: true });
  }
  if (now.fds > baseline.fds) {
    const fds = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return `${fd} -> ${fs.readlinkSync(`/proc/${pid}/fd/${fd}`)}`; } catch { return fd; } });
    problems.push(`daemon fd count ${now.fds}, was ${baseline.fds}:\n  ${fds.join('\n  ')}`);
  }
  if (!equal(now.mounts, baseline.mounts)) problems.push(`mounts below the run's directories differ:\n  before ${JSON.stringify(baseline.mounts)}\n  after  ${JSON.stringify(now.mounts)}`);
  if (!equal(now.loops, baseline.loops)) problems.push(`loop devices differ:\n  before ${JSON.stringify(baseline.loops)}\n  after  ${JSON.stringify(now.loops)}`);
  problems.push(...registry);
  const errors = f.stack.daemon.logs.slice(baseline.logLines).filter((l) => /"level":(50|60)/.test(l));
  if (errors.length) problems.push(`the daemon logged ${errors.length} errors, e.g.:\n  ${errors.slice(0, 3).join('\n  ')}`);
  return problems;
}

const equal = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The registry file is well formed and no block is handed out twice. Once
 * settled (every client gone, so every namespace and attachment with it),
 * it must hold nothing for the fuzz users.
 */
export function registryProblems(f: FuzzStack, opts: { settled: boolean }): string[] {
  let state;
  try {
    state = RegistryStore.readDocument(f.stack.stateDir);
  } catch (err) {
    return [`the registry is invalid: ${(err as Error).message}`];
  }
  const problems: string[] = [];
  const bases = new Map<number, string>();
  const ids = new Set<string>();
  for (const n of state.namespaces) {
    const who = `${n.name}@${n.ownerUid}`;
    if (n.base % BLOCK !== 0 || n.base < POOL.first || n.base + BLOCK - 1 > POOL.last) problems.push(`namespace ${who}: base ${n.base} is not a pool block`);
    if (!Number.isInteger(n.size) || n.size < 1 || n.size > BLOCK) problems.push(`namespace ${who}: size ${n.size}`);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(n.name)) problems.push(`namespace ${who}: malformed name`);
    if (bases.has(n.base)) problems.push(`block ${n.base} is held by both ${bases.get(n.base)} and ${who}`);
    bases.set(n.base, who);
    if (ids.has(n.namespaceId)) problems.push(`namespace id ${n.namespaceId} is recorded twice`);
    ids.add(n.namespaceId);
  }
  const mountIds = new Set<string>();
  for (const m of state.mounts) {
    if (mountIds.has(m.mountId)) problems.push(`mount id ${m.mountId} is recorded twice`);
    mountIds.add(m.mountId);
  }
  if (opts.settled) {
    const uids = new Set(FUZZ_USERS.map((u) => u.user.uid));
    const ns = state.namespaces.filter((n) => uids.has(n.ownerUid));
    if (ns.length) problems.push(`namespaces of fuzz users still recorded after they exited: ${ns.map((n) => `${n.name}@${n.ownerUid}`).join(', ')}`);
    const mounts = state.mounts.filter((m) => uids.has(m.ownerUid));
    if (mounts.length) problems.push(`attachments of fuzz users still recorded after their cleanup: ${mounts.map((m) => m.target).join(', ')}`);
  }
  return problems;
}
