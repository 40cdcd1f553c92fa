// nsmountctl run behaving like a container tool, as an unprivileged user:
// a minimal rootfs (no /proc, /dev, /tmp) just runs, --bind sources of the
// caller's appear owned by the container's root, a terminal works inside
// (/dev/pts, tty, stty), the command has its own foreground process group,
// signals sent to nsmountctl reach it, pid 1 shows nothing of the host, and
// --image runs an image's root partition.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice } from '../helpers/users';
import { nsmountctl, isOneLineError, NSMOUNTCTL_BIN } from '../helpers/nsmountctl';
import { runAsUser } from '../helpers/as-user';
import { userDirectory } from '../helpers/user-dirs';
import { buildMinimalRootfsTarball, buildMinimalRootfsTree } from '../helpers/rootfs';
import { allowUntrustedImages } from '../helpers/polkit-rules';

const FOREIGN = 2147352576;

let home: string;
let rootfs: string;

const stack = useTestStack({
  rules: allowUntrustedImages(alice),
});
test.before(async () => {
  if (rootSkipReason) return;
  home = userDirectory(stack.baseDir, alice, 'alice-home');
  const tarball = buildMinimalRootfsTarball(home);
  fs.chownSync(tarball, alice.uid, alice.gid);
  rootfs = path.join(home, 'minimal');
  const imported = await nsmountctl(alice, stack.address, ['import-tar', tarball, rootfs]);
  if (imported.code !== 0) throw new Error(`import-tar failed: ${imported.stderr}`);
});

const run = (args: string[], input?: string) => nsmountctl(alice, stack.address, ['run', '--rootfs', rootfs, ...args], { input });

/** Runs `command` (a shell line) as alice under a fresh pty, as in a terminal. */
function inTerminal(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runAsUser(alice, ['script', '--quiet', '--return', '--command', command, '/dev/null'], { env: { TERM: 'dumb' } });
}

const nsmountctlLine = () => `${process.execPath} ${NSMOUNTCTL_BIN} --address ${stack.address}`;

rootTest('a minimal rootfs without /proc, /dev and /tmp runs read-only; the three are created for it', async (t) => {
  t.false(fs.existsSync(path.join(rootfs, 'proc')));
  const result = await run(['--', '/bin/sh', '-c', 'cat /proc/1/comm; ls /dev/null; echo t > /tmp/f && cat /tmp/f; touch /x']);
  t.is(result.stdout, 'nsmount-init\n/dev/null\nt\n');
  t.regex(result.stderr, /Read-only file system/);
  for (const dir of ['proc', 'dev', 'tmp']) t.is(fs.statSync(path.join(rootfs, dir)).uid, FOREIGN, dir);
  t.is(fs.statSync(path.join(rootfs, 'tmp')).mode & 0o7777, 0o1777);
  // And again, now that they exist.
  const again = await run(['--', '/bin/sh', '-c', 'echo again']);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, 'again\n');
});

rootTest('a --bind directory of the caller appears owned by the container root, writable', async (t) => {
  const shared = userDirectory(stack.baseDir, alice, 'bind-shared');
  fs.writeFileSync(path.join(shared, 'mine'), 'x');
  fs.chownSync(path.join(shared, 'mine'), alice.uid, alice.gid);
  const result = await run(['--bind', `${shared}:/mnt/shared`, '--', '/bin/sh', '-c', 'stat -c "%u %g" /mnt/shared /mnt/shared/mine; echo new > /mnt/shared/made']);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, '0 0\n0 0\n');
  // Written as the container's root: on the host, alice's.
  t.is(fs.statSync(path.join(shared, 'made')).uid, alice.uid);
});

rootTest('another user\'s --bind directory keeps its owners (nobody inside) and stays read-only with :ro', async (t) => {
  const result = await run(['--bind', '/etc:/mnt/etc:ro', '--', '/bin/sh', '-c', 'stat -c %u /mnt/etc/passwd; touch /mnt/etc/x']);
  t.is(result.stdout, '65534\n');
  t.regex(result.stderr, /Read-only file system/);
});

rootTest('under a terminal, /dev/pts holds it: tty and stty size work inside', async (t) => {
  const result = await inTerminal(`stty rows 24 cols 80; ${nsmountctlLine()} run --rootfs ${rootfs} -- /bin/sh -c 'tty; stty size'`);
  t.is(result.code, 0, result.stdout + result.stderr);
  const lines = result.stdout.replace(/\r/g, '').trim().split('\n');
  t.regex(lines[0], /^\/dev\/pts\/\d+$/);
  t.is(lines[1], '24 80');
});

rootTest('the command runs in a process group of its own, the foreground one of the terminal', async (t) => {
  // Fields 5 and 8 of /proc/self/stat: process group and the terminal's
  // foreground group. nsmountctl's own group lies outside the pid
  // namespace and would show as 0.
  const result = await inTerminal(`${nsmountctlLine()} run --rootfs ${rootfs} -- /bin/sh -c 'cut -d" " -f5,8 /proc/self/stat 2>/dev/null || tr " " "\\n" < /proc/self/stat | sed -n "5p;8p"'`);
  t.is(result.code, 0, result.stdout + result.stderr);
  const [pgrp, foreground] = result.stdout.replace(/\r/g, '').trim().split(/\s+/).map(Number);
  t.not(pgrp, 0);
  t.is(pgrp, foreground);
});

const forwarded = test.macro<[NodeJS.Signals, number]>({
  async exec(t, signal, number) {
    const child = spawn(
      'setpriv',
      ['--reuid', String(alice.uid), '--regid', String(alice.gid), '--clear-groups', '--', process.execPath, NSMOUNTCTL_BIN, '--address', stack.address,
        'run', '--rootfs', rootfs, '--', '/bin/sh', '-c', `trap "echo got-${number}; exit 42" ${number}; echo ready; while true; do sleep 0.1; done`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    await new Promise<void>((resolve) =>
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (stdout.includes('ready')) resolve();
      }),
    );
    child.kill(signal);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    t.is(code, 42);
    t.is(stdout, `ready\ngot-${number}\n`);
  },
  title: (_p, signal: NodeJS.Signals) => `${signal} sent to nsmountctl reaches the command`,
});
for (const [signal, number] of [['SIGINT', 2], ['SIGQUIT', 3], ['SIGTERM', 15]] as Array<[NodeJS.Signals, number]>) {
  rootTest(forwarded, signal, number);
}

rootTest('pid 1 shows neither the host node path nor the bus address', async (t) => {
  const result = await run(['--', '/bin/sh', '-c', 'tr "\\0" " " < /proc/1/cmdline']);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout.trim(), 'nsmount-init');
  t.false(result.stdout.includes(process.execPath));
  t.false(result.stdout.includes(stack.address));
});

rootTest('run --image runs the root partition; a read-only image lacking /proc says which and how to fix it', async (t) => {
  const tree = buildMinimalRootfsTree(home, 'image-tree');
  const image = path.join(home, 'minimal.ext4');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 16 << 20);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, image]);
  fs.chownSync(image, alice.uid, alice.gid);

  const readOnly = await nsmountctl(alice, stack.address, ['run', '--image', image, '--', '/bin/sh', '-c', 'true']);
  t.is(readOnly.code, 125);
  t.true(isOneLineError(readOnly.stderr), readOnly.stderr);
  t.regex(readOnly.stderr, new RegExp(`the image ${image} has no /(proc|dev|tmp) directory, and it is read-only: run it once with --writable`));

  const writable = await nsmountctl(alice, stack.address, ['run', '--image', image, '--writable', '--', '/bin/sh', '-c', 'id -u; cat /proc/1/comm; echo hi > /root-was-here']);
  t.is(writable.code, 0, writable.stderr);
  t.is(writable.stdout, '0\nnsmount-init\n');
  // Now it has them, read-only works too.
  const again = await nsmountctl(alice, stack.address, ['run', '--image', image, '--', '/bin/cat', '/root-was-here']);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, 'hi\n');
});
