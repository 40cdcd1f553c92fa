import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice } from '../helpers/users';
import { nsmountctl, isOneLineError, NSMOUNTCTL_BIN } from '../helpers/nsmountctl';
import { userDirectory } from '../helpers/user-dirs';
import { buildRootfsTarball } from '../helpers/rootfs';

const FOREIGN = 2147352576;

let rootfs: string;
let shared: string;

const stack = useTestStack();
test.before(async () => {
  if (rootSkipReason) return;
  const home = userDirectory(stack.baseDir, alice, 'alice-home');
  const tarball = buildRootfsTarball(home);
  fs.chownSync(tarball, alice.uid, alice.gid);
  rootfs = path.join(home, 'rootfs');
  const imported = await nsmountctl(alice, stack.address, ['import-tar', tarball, rootfs]);
  if (imported.code !== 0) throw new Error(`import-tar failed: ${imported.stderr}`);
  shared = userDirectory(stack.baseDir, alice, 'shared');
  fs.writeFileSync(path.join(shared, 'greeting'), 'hello from the host\n', { mode: 0o644 });
});

const run = (args: string[], input?: string) => nsmountctl(alice, stack.address, ['run', '--rootfs', rootfs, ...args], { input });

rootTest('the command runs as uid 0 and gid 0 inside', async (t) => {
  const result = await run(['--', '/bin/sh', '-c', 'id -u; id -g']);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, '0\n0\n');
});

const exitStatus = test.macro<[string, number]>({
  async exec(t, script, expected) {
    const result = await run(['--', '/bin/sh', '-c', script]);
    t.is(result.code, expected, result.stderr);
    t.is(result.stderr, '');
  },
  title: (_p, script: string, expected: number) => `exit status ${expected} passes through (${script})`,
});
for (const [script, code] of [
  ['exit 0', 0],
  ['exit 7', 7],
  ['exit 255', 255],
  ['kill -KILL $$', 128 + 9],
  ['kill -TERM $$', 128 + 15],
] as Array<[string, number]>) {
  rootTest(exitStatus, script, code);
}

rootTest('with --writable, files written inside land on disk under the foreign range', async (t) => {
  const result = await run(['--writable', '--', '/bin/sh', '-c', 'echo hi > /root/out && mkdir /srv/made && chown 5:6 /srv/made']);
  t.is(result.code, 0, result.stderr);
  const out = fs.statSync(path.join(rootfs, 'root/out'));
  t.deepEqual([out.uid, out.gid], [FOREIGN, FOREIGN]);
  const made = fs.statSync(path.join(rootfs, 'srv/made'));
  t.deepEqual([made.uid, made.gid], [FOREIGN + 5, FOREIGN + 6]);
});

rootTest('without --writable the rootfs is read-only', async (t) => {
  const result = await run(['--', '/bin/sh', '-c', 'touch /should-not-exist']);
  t.not(result.code, 0);
  t.regex(result.stderr, /Read-only file system/);
  t.false(fs.existsSync(path.join(rootfs, 'should-not-exist')));
});

rootTest('/proc is a fresh one of a new pid namespace, with the init as pid 1', async (t) => {
  const result = await run(['--', '/bin/sh', '-c', 'cat /proc/1/comm; echo $$; ls /proc | grep -c "^[0-9]"']);
  t.is(result.code, 0, result.stderr);
  const [comm, shellPid, count] = result.stdout.trim().split('\n');
  t.is(comm, 'nsmount-init');
  t.is(shellPid, '2');
  // init, the shell, ls and grep at most: nothing of the host.
  t.true(Number(count) <= 4, count);
});

rootTest('/dev holds the minimal set of devices, usable, and /tmp is a writable tmpfs', async (t) => {
  const result = await run(['--', '/bin/sh', '-c', 'ls /dev; echo x > /dev/null && echo null-ok; echo t > /tmp/f && cat /tmp/f']);
  t.is(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  for (const device of ['full', 'null', 'random', 'tty', 'urandom', 'zero']) t.true(lines.includes(device), device);
  t.true(lines.includes('null-ok'));
  t.is(lines.at(-1), 't');
});

rootTest('--bind SRC:DST:ro shows a host directory read-only', async (t) => {
  const result = await run(['--bind', `${shared}:/mnt:ro`, '--', '/bin/sh', '-c', 'cat /mnt/greeting; echo x > /mnt/new']);
  t.is(result.stdout, 'hello from the host\n');
  t.regex(result.stderr, /Read-only file system/);
  t.not(result.code, 0);
  t.false(fs.existsSync(path.join(shared, 'new')));
});

rootTest('a bind target missing from a writable rootfs is created', async (t) => {
  const result = await run(['--writable', '--bind', `${shared}:/data/in`, '--', '/bin/cat', '/data/in/greeting']);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, 'hello from the host\n');
});

rootTest('standard input reaches the command', async (t) => {
  const result = await run(['--', '/bin/cat'], 'piped in\n');
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, 'piped in\n');
});

rootTest('SIGTERM to nsmountctl reaches the command, and its status comes back', async (t) => {
  const child = spawn(
    'setpriv',
    ['--reuid', String(alice.uid), '--regid', String(alice.gid), '--clear-groups', '--', process.execPath, NSMOUNTCTL_BIN, '--address', stack.address,
      'run', '--rootfs', rootfs, '--', '/bin/sh', '-c', 'trap "echo got-term; exit 42" TERM; echo ready; while true; do sleep 0.1; done'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  await new Promise<void>((resolve) =>
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.includes('ready')) resolve();
    }),
  );
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  t.is(code, 42);
  t.is(stdout, 'ready\ngot-term\n');
});

rootTest('a command missing from the rootfs exits 127 with one line', async (t) => {
  const result = await run(['--', 'no-such-command']);
  t.is(result.code, 127);
  t.true(isOneLineError(result.stderr), result.stderr);
  t.regex(result.stderr, /no-such-command: command not found in the rootfs/);
});

rootTest('a command without a slash is looked up in the PATH inside', async (t) => {
  const result = await run(['--', 'echo', 'found']);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, 'found\n');
});

rootTest.serial('the namespace allocated for run is gone once run is', async (t) => {
  const before = JSON.parse((await nsmountctl(alice, stack.address, ['status', '--json'])).stdout).namespaces as Array<{ name: string }>;
  await run(['--', 'true']);
  // The kernel frees a user namespace from a work queue, a moment (longer
  // on a loaded machine) after its last user goes.
  let names: string[] = [];
  for (let i = 0; i < 150; i++) {
    const status = await nsmountctl(alice, stack.address, ['status', '--json']);
    names = (JSON.parse(status.stdout).namespaces as Array<{ name: string }>).map((n) => n.name);
    if (names.every((n) => !n.startsWith('nsmountctl-run-'))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.deepEqual(names.filter((n) => n.startsWith('nsmountctl-run-')), [], `before: ${before.map((n) => n.name).join(', ')}`);
});
