// The README's first hour, verbatim: `./bin/nsmountd` from the checkout on a
// machine without a system bus (embedded bus and polkitd, default state
// directory), its gdbus example run twice in a row from a script, a second
// daemon refused, and the example polkit rule for untrusted images
// installed the way the README says. All of it runs in a mount namespace of
// this file's own, where /run and /etc/polkit-1/rules.d are empty tmpfs
// and /etc/group has the README's group, so the paths are the README's and
// the host (and other test files) see none of it.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { spawnManaged, type ManagedChild } from '../../src/stack/child';
import { rootSkipReason, rootTest } from '../helpers/root';
import { PACKAGE_ROOT } from '../helpers/paths';
import { runAsUser, type RunResult } from '../helpers/as-user';
import { alice, bob, type TestUser } from '../helpers/users';
import { makeExt4 } from '../helpers/images';

const README = fs.readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');
const README_ADDRESS = 'unix:path=/run/nsmountd-embedded/bus/system_bus_socket';
const IMAGES_GROUP = 'nsmount-images';

/** The `index`th ```sh block after the heading, verbatim. */
function readmeBlock(heading: string, index = 0): string {
  const from = README.indexOf(`\n${heading}\n`);
  if (from < 0) throw new Error(`README has no heading ${JSON.stringify(heading)}`);
  const blocks = [...README.slice(from).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (!blocks[index]) throw new Error(`README has no sh block ${index} after ${heading}`);
  return blocks[index];
}

let holder: ManagedChild;
let daemon: ManagedChild;
let work: string;
let image: string;

/** argv run in this file's mount namespace, as root or as a test user. */
function inNamespace(user: TestUser | 'root', argv: string[]): string[] {
  const asUser =
    user === 'root'
      ? []
      : ['setpriv', '--reuid', String(user.uid), '--regid', String(user.gid), ...(user.groups.length ? ['--groups', user.groups.join(',')] : ['--clear-groups']), '--'];
  return ['nsenter', `--mount=/proc/${holder.pid}/ns/mnt`, '--', ...asUser, ...argv];
}

/** A shell script run from the checkout, the README's working directory. */
function script(user: TestUser | 'root', text: string): Promise<RunResult> {
  return runAsUser('root', inNamespace(user, ['sh', '-c', `cd "$1" && ${text}`, 'sh', PACKAGE_ROOT]), { timeoutMs: 60000 });
}

test.before(async () => {
  if (rootSkipReason) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-embedded-'));
  fs.chmodSync(work, 0o755);
  // usermod cannot write the test run's bind-mounted /etc/group: the
  // README's groupadd and usermod are this line.
  const group = path.join(work, 'group');
  fs.writeFileSync(group, `${fs.readFileSync('/etc/group', 'utf8')}${IMAGES_GROUP}:x:61090:${alice.name}\n`, { mode: 0o644 });
  holder = spawnManaged('unshare', [
    '--mount',
    '--propagation',
    'private',
    '--',
    'sh',
    '-c',
    'mount -t tmpfs -o mode=0755 tmpfs /run && mount -t tmpfs -o mode=0755 tmpfs /etc/polkit-1/rules.d && mount --bind "$1" /etc/group && echo ready && exec sleep infinity',
    'sh',
    group,
  ]);
  await holder.waitForLine(/^ready$/, { timeoutMs: 10000 });

  const rule = readmeBlock('### Disk images: trusted, or allowed by a polkit rule', 1)
    .split('\n')
    .filter((line) => line.startsWith('cp '));
  if (rule.length !== 1) throw new Error(`expected one cp line in the README's rule block, got ${rule.length}`);
  const installed = await script('root', rule[0]);
  if (installed.code !== 0) throw new Error(`installing the rule failed: ${installed.stderr}`);

  image = makeExt4(work, 'disk.img', { files: { hello: 'hello\n' } });
  fs.chownSync(image, alice.uid, alice.gid);

  // The README's "npm ci && ./bin/nsmountd", npm ci being done.
  const env = { ...process.env };
  delete env.DBUS_SYSTEM_BUS_ADDRESS;
  daemon = spawnManaged('nsenter', [`--mount=/proc/${holder.pid}/ns/mnt`, '--', 'sh', '-c', 'cd "$1" && exec ./bin/nsmountd', 'sh', PACKAGE_ROOT], { env });
  await daemon.waitForLine(/"msg":"nsmountd ready"/, { timeoutMs: 30000 });
});

test.after.always(async () => {
  await daemon?.stop({ graceMs: 10000 });
  await holder?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

rootTest.serial('nsmountd without a system bus prints the address the README uses', (t) => {
  t.true(
    daemon.lines.some((l) => l.includes(`DBUS_SYSTEM_BUS_ADDRESS=${README_ADDRESS}`)),
    daemon.lines.join('\n'),
  );
});

rootTest.serial("the README's gdbus AllocateUserNamespace works twice in a row from a script, and the list forgets both", async (t) => {
  const block = readmeBlock('## Trying it');
  const r = await script(alice, `set -e\n${block}\n${block}`);
  t.is(r.code, 0, r.stderr);
  const replies = r.stdout.trim().split('\n');
  t.is(replies.length, 2, r.stdout);
  for (const reply of replies) t.regex(reply, /^\(handle 0, uint32 \d+, uint32 65536\)$/);

  // Both fds closed with gdbus; once the kernel has freed the namespaces
  // (tens of ms), they are not listed, long before the next sweep.
  const list = `sleep 1; gdbus call --address "${README_ADDRESS}" --dest org.nsmount.NsMount1 --object-path /org/nsmount/NsMount1 --method org.nsmount.NsMount1.Manager.ListUserNamespaces '{}'`;
  const listed = await script(alice, list);
  t.is(listed.code, 0, listed.stderr);
  t.is(listed.stdout.trim(), '(@a(suuutt) [],)');
});

const secondDaemon = test.macro({
  async exec(t, args: string) {
    const r = await script('root', `exec ./bin/nsmountd${args}`);
    t.not(r.code, 0);
    t.regex(r.stderr, new RegExp(`already running \\(pid ${daemon.pid}\\)`));
    t.false(r.stderr.includes('    at '), 'no stack trace');
    // The first one is untouched: same process, still reachable at the same address.
    t.true(fs.existsSync(`/proc/${daemon.pid}`));
    const block = readmeBlock('## Trying it');
    const again = await script(bob, block);
    t.is(again.code, 0, again.stderr);
  },
  title: (_provided, args: string) => `a second ./bin/nsmountd${args} says "already running (pid N)", exits non-zero and leaves the first untouched`,
});

rootTest.serial(secondDaemon, '');
rootTest.serial(secondDaemon, ` --address ${README_ADDRESS}`);
// Another state directory, so only the bus name can tell.
rootTest.serial(secondDaemon, ` --address ${README_ADDRESS} --state-dir /run/nsmountd-other`);

const mountUntrusted = (user: TestUser) =>
  script(
    user,
    `gdbus call --address "${README_ADDRESS}" --dest org.nsmount.NsMount1 --object-path /org/nsmount/NsMount1 ` +
      `--method org.nsmount.NsMount1.Manager.Mount 3 '{}' 3<"${image}"`,
  );

rootTest.serial("the README's polkit rule lets a member of nsmount-images mount an untrusted image in embedded mode", async (t) => {
  const r = await mountUntrusted(alice);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^\(\[\(/);
});

rootTest.serial('without the group the same untrusted image is refused', async (t) => {
  fs.chownSync(image, bob.uid, bob.gid);
  try {
    const r = await mountUntrusted(bob);
    t.not(r.code, 0, r.stdout);
    t.regex(r.stderr, /InteractiveAuthorizationRequired.*org\.nsmount\.mount-image-untrusted/);
  } finally {
    fs.chownSync(image, alice.uid, alice.gid);
  }
});
