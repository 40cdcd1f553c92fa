#!/usr/bin/env node
// `npm run demo`: the whole nsmountd story on a private stack, as root on a
// fresh machine. A test user imports a rootfs tarball, runs commands in it
// as root, looks at the owners on disk, attaches and detaches a portable
// home and mounts an ext4 image. Everything happens in a private mount
// namespace with its own bus, polkitd and daemon; the host is untouched.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const MARK = 'NSMOUNTD_DEMO_NAMESPACE';

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

if (process.getuid() !== 0) fail('run it as root: it starts a private bus, polkitd and nsmountd');
if (!process.env[MARK]) {
  const res = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, __filename], {
    stdio: 'inherit',
    env: { ...process.env, [MARK]: '1' },
  });
  process.exit(res.status ?? 1);
}

const dist = (p) => {
  try {
    return require(path.join(ROOT, 'dist', p));
  } catch (err) {
    fail(`${p} is missing (${err.code || err.message}); run "npm run build" first`);
  }
};
const { installTestUsers, alice } = dist('test/helpers/users.js');
const { startTestStack } = dist('test/helpers/stack.js');
const { runAsUser } = dist('test/helpers/as-user.js');
const { buildRootfsTarball, BUSYBOX } = dist('test/helpers/rootfs.js');
const { makeExt4 } = dist('test/helpers/images.js');

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function heading(text) {
  console.log(`\n${bold(`== ${text}`)}`);
}

async function as(user, argv, label) {
  console.log(`${user === 'root' ? '#' : '$'} ${label ?? argv.join(' ')}`);
  const result = await runAsUser(user, argv);
  process.stdout.write(result.stdout.replace(/^/gm, '  ').replace(/  $/, ''));
  process.stdout.write(result.stderr.replace(/^/gm, '  ').replace(/  $/, ''));
  if (result.code !== 0) throw new Error(`"${label ?? argv.join(' ')}" exited with ${result.code}`);
  return result;
}

async function main() {
  if (!fs.existsSync(BUSYBOX)) fail(`${BUSYBOX} is missing: apt-get install busybox-static`);
  const usersDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-demo-users-'));
  installTestUsers({ workDir: usersDir });
  const stack = await startTestStack({
    // An image in a user's own directory is "untrusted" by default; the
    // demo's administrator trusts alice with hers.
    rules: `polkit.addRule(function (action, subject) {
      if (action.id == "org.nsmount.mount-image-untrusted" && subject.user == "${alice.name}") return polkit.Result.YES;
    });`,
  });
  const ctl = (args) => [process.execPath, path.join(ROOT, 'bin/nsmountctl'), '--address', stack.address, ...args];
  const home = path.join(stack.baseDir, 'home-alice');
  const mk = (dir) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.chownSync(dir, alice.uid, alice.gid);
    return dir;
  };
  try {
    mk(home);
    console.log(bold(`nsmountd demo: user ${alice.name} (uid ${alice.uid}), no privileges; bus ${stack.address}`));

    heading('1. Import a rootfs tarball (busybox, files of several owners, a setuid binary, links, a fifo, a device)');
    const tarball = buildRootfsTarball(home, 'rootfs.tar');
    fs.chownSync(tarball, alice.uid, alice.gid);
    await as(alice, ctl(['import-tar', tarball, `${home}/rootfs`]), `nsmountctl import-tar ~/rootfs.tar ~/rootfs`);

    heading('2. Run commands inside as root');
    await as(alice, ctl(['run', '--rootfs', `${home}/rootfs`, '--', '/bin/sh', '-c', 'id; ls -ln /; ls -ln /srv /bin/su-like']),
      "nsmountctl run --rootfs ~/rootfs -- sh -c 'id; ls -ln /; ls -ln /srv /bin/su-like'");
    await as(alice, ctl(['run', '--rootfs', `${home}/rootfs`, '--writable', '--', '/bin/sh', '-c', 'echo made inside > /root/note; ps']),
      "nsmountctl run --rootfs ~/rootfs --writable -- sh -c 'echo made inside > /root/note; ps'");

    heading('3. The host view: the same files, owned by the foreign range (2147352576 + owner inside)');
    await as('root', ['ls', '-ln', `${home}/rootfs`, `${home}/rootfs/srv`, `${home}/rootfs/root`], 'ls -ln ~alice/rootfs ~alice/rootfs/srv ~alice/rootfs/root');

    heading('4. A portable home: attach with idmapping, look, detach');
    const portable = mk(path.join(home, 'portable'));
    fs.writeFileSync(path.join(portable, 'diary.txt'), 'written on another machine\n');
    fs.chownSync(path.join(portable, 'diary.txt'), alice.uid, alice.gid);
    const attachAt = mk(path.join(home, 'mnt-home'));
    await as(alice, ctl(['idmap', portable, '--attach', attachAt]), 'nsmountctl idmap ~/portable --attach ~/mnt-home');
    await as(alice, ['cat', path.join(attachAt, 'diary.txt')], 'cat ~/mnt-home/diary.txt');
    await as(alice, ctl(['status']), 'nsmountctl status');
    await as(alice, ctl(['unmount', attachAt]), 'nsmountctl unmount ~/mnt-home');

    heading('5. Mount an ext4 image');
    const image = makeExt4(home, 'data.ext4', { label: 'demo-data', files: { 'README': 'hello from inside an ext4 image\n' } });
    fs.chownSync(image, alice.uid, alice.gid);
    const imageAt = mk(path.join(home, 'mnt-image'));
    await as(alice, ctl(['mount', image, '--attach', imageAt, '--read-only']), 'nsmountctl mount ~/data.ext4 --attach ~/mnt-image --read-only');
    await as(alice, ['cat', path.join(imageAt, 'README')], 'cat ~/mnt-image/README');
    await as(alice, ctl(['unmount', imageAt]), 'nsmountctl unmount ~/mnt-image');
    console.log(`\n${bold('done.')}`);
  } finally {
    await stack.stop();
    fs.rmSync(usersDir, { recursive: true, force: true });
  }
}

main().catch((err) => fail(err.message));
