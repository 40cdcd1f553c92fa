// The fuzz harness shared by fuzz.test.ts and regressions.test.ts: a stack
// with a tiny uid pool and quota (so RangeExhausted and QuotaExceeded come
// up), polkit rules that give each test user a different answer, a workspace
// of files, images and devices per user. The checks that the daemon came
// out of it as it went in are in leaks.ts.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestStack, type TestStack } from '../helpers/stack';
import { runAsUser } from '../helpers/as-user';
import { alice, bob, carol, dave, type TestUser } from '../helpers/users';
import { makeExt4, makeGpt, TYPE_ROOT_X86_64 } from '../helpers/images';
import { PACKAGE_ROOT } from '../helpers/paths';
import { FD_ZOO_PROLOGUE, PYTHON } from './fd-zoo';
import type { FuzzEnv, FuzzSummary } from './types';

export const FUZZ_CLIENT = path.join(PACKAGE_ROOT, 'dist/test/clients/fuzz.js');
export const SEEDS_DIR = path.join(PACKAGE_ROOT, 'test/fuzz/seeds');
const FOREIGN_UID = 2147352576;
export const BLOCK = 65536;
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
