// The README's nsmountctl block, verbatim, as an unprivileged user from a
// script: status, mkdir, import-tar, run, idmap, unmount, mount. It runs
// twice in a row, each time in a fresh home, against one daemon.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice } from '../helpers/users';
import { runAsUser } from '../helpers/as-user';
import { userDirectory } from '../helpers/user-dirs';
import { PACKAGE_ROOT } from '../helpers/paths';
import { buildMinimalRootfsTarball } from '../helpers/rootfs';
import { makeExt4 } from '../helpers/images';
import { allowUntrustedImages } from '../helpers/polkit-rules';

const FOREIGN = 2147352576;

function readmeBlock(): string {
  const readme = fs.readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');
  const m = /### nsmountctl\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no nsmountctl block');
  return m[1];
}

let binDir: string;
const stack = useTestStack({
  // disk.img sits in the user's home, so it is untrusted: "allowed by polkit".
  rules: allowUntrustedImages(alice),
});
test.before(() => {
  if (rootSkipReason) return;
  // nsmountctl on the PATH, as an installation puts it there.
  binDir = userDirectory(stack.baseDir, alice, 'bin');
  fs.symlinkSync(path.join(PACKAGE_ROOT, 'bin/nsmountctl'), path.join(binDir, 'nsmountctl'));
});

/** A home with what the block takes for granted: rootfs.tar, a portable home, disk.img. */
function prepareHome(name: string): string {
  const home = userDirectory(stack.baseDir, alice, name, 0o700);
  const tarball = buildMinimalRootfsTarball(home, 'rootfs.tar');
  fs.chownSync(tarball, alice.uid, alice.gid);
  // A home carried from elsewhere, stored foreign-owned.
  const me = path.join(home, 'homes/me');
  fs.mkdirSync(me, { recursive: true });
  fs.chownSync(path.dirname(me), alice.uid, alice.gid);
  fs.writeFileSync(path.join(me, 'diary'), 'dear diary\n');
  for (const p of [me, path.join(me, 'diary')]) fs.chownSync(p, FOREIGN, FOREIGN);
  const image = makeExt4(home, 'disk.img', { files: { 'hello.txt': 'from the disk\n' } });
  fs.chownSync(image, alice.uid, alice.gid);
  for (const entry of fs.readdirSync(home)) if (entry.startsWith('content-')) fs.rmSync(path.join(home, entry), { recursive: true });
  return home;
}

for (const round of [1, 2]) {
  rootTest.serial(`the README's nsmountctl block works verbatim (round ${round})`, async (t) => {
    const home = prepareHome(`readme-home-${round}`);
    const script = path.join(home, 'readme.sh');
    fs.writeFileSync(script, `set -e\ncd ~\n${readmeBlock()}`);
    fs.chownSync(script, alice.uid, alice.gid);
    // Standard input is what the container's /bin/sh reads, as if typed.
    const result = await runAsUser(alice, ['sh', script], {
      input: 'id -u\nls /bin/busybox\n',
      env: { HOME: home, PATH: `${binDir}:/usr/bin:/bin`, DBUS_SYSTEM_BUS_ADDRESS: stack.address },
      cwd: home,
    });
    t.is(result.code, 0, result.stdout + result.stderr);
    t.regex(result.stdout, /^created .*containers\/debian \(owner 2147352576:2147352576, mode 0755\)$/m);
    t.regex(result.stdout, /^imported .*rootfs\.tar into .*containers\/debian$/m);
    t.regex(result.stdout, /^0\n\/bin\/busybox$/m);
    t.regex(result.stdout, new RegExp(`^attached ${home}/homes/me at ${home}/mnt/home \\(owner\\)$`, 'm'));
    t.regex(result.stdout, new RegExp(`^unmounted ${home}/mnt/home$`, 'm'));
    t.regex(result.stdout, new RegExp(`^attached at ${home}/mnt/disk$`, 'm'));
    t.is(fs.readFileSync(path.join(home, 'mnt/disk/hello.txt'), 'utf8'), 'from the disk\n');
    // --mode owner: the root-made image's files appear as alice's own.
    t.is(fs.statSync(path.join(home, 'mnt/disk')).uid, alice.uid);
    t.is(fs.statSync(path.join(home, 'mnt/disk/hello.txt')).uid, alice.uid);
    const detached = await runAsUser(alice, [path.join(binDir, 'nsmountctl'), 'unmount', path.join(home, 'mnt/disk')], {
      env: { PATH: '/usr/bin:/bin', DBUS_SYSTEM_BUS_ADDRESS: stack.address },
    });
    t.is(detached.code, 0, detached.stderr);
  });
}
