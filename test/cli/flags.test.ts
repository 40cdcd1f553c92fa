// The flags issue #11 asked for and the wording of refusals, as an
// unprivileged user: idmap's portable-home default and --userns, mount
// --read-write, and errors that name what the user typed (or JSON).
import fs from 'node:fs';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice, bob } from '../helpers/users';
import { nsmountctl, isOneLineError } from '../helpers/nsmountctl';
import { userDirectory } from '../helpers/user-dirs';
import { makeExt4 } from '../helpers/images';
import { holdNamespaces } from '../helpers/holder';
import { runAsUser } from '../helpers/as-user';
import { allowUntrustedImages } from '../helpers/polkit-rules';

const FOREIGN = 2147352576;

const stack = useTestStack({
  rules: allowUntrustedImages(alice),
});

/** A foreign-owned home below a directory of alice's, with one file of its owner's. */
async function foreignHome(name: string): Promise<string> {
  const parent = userDirectory(stack.baseDir, alice, `${name}-parent`);
  const home = path.join(parent, 'me');
  const made = await nsmountctl(alice, stack.address, ['mkdir', home]);
  if (made.code !== 0) throw new Error(made.stderr);
  fs.writeFileSync(path.join(home, 'diary'), 'dear diary\n');
  fs.chownSync(path.join(home, 'diary'), FOREIGN, FOREIGN);
  return home;
}

rootTest('idmap without --mode shows a foreign-owned home as the caller (owner mode), creating the target', async (t) => {
  const home = await foreignHome('portable');
  const target = path.join(userDirectory(stack.baseDir, alice, 'portable-mnt'), 'mnt/home');
  const result = await nsmountctl(alice, stack.address, ['idmap', home, '--attach', target]);
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, `attached ${home} at ${target} (owner)\n`);
  t.is(fs.statSync(target).uid, alice.uid);
  t.is(fs.statSync(path.join(target, 'diary')).uid, alice.uid);
  const detached = await nsmountctl(alice, stack.address, ['unmount', target]);
  t.is(detached.code, 0, detached.stderr);
});

rootTest('idmap --userns NAME --mode foreign maps the foreign range into one of the caller\'s live namespaces', async (t) => {
  const home = await foreignHome('userns');
  fs.chownSync(path.join(home, 'diary'), FOREIGN + 5, FOREIGN + 6);
  const holder = await holdNamespaces(alice, stack.address, ['held-for-idmap']);
  try {
    const [held] = holder.results;
    t.true(held.ok, held.message);
    const target = userDirectory(stack.baseDir, alice, 'userns-mnt');
    const result = await nsmountctl(alice, stack.address, ['idmap', home, '--attach', target, '--userns', 'held-for-idmap', '--mode', 'foreign']);
    t.is(result.code, 0, result.stderr);
    const diary = fs.statSync(path.join(target, 'diary'));
    t.deepEqual([diary.uid, diary.gid], [held.base! + 5, held.base! + 6]);
    t.is((await nsmountctl(alice, stack.address, ['unmount', target])).code, 0);
  } finally {
    await holder.release();
  }
});

rootTest('idmap --userns with a name the caller has no namespace under says so', async (t) => {
  const home = await foreignHome('no-userns');
  const target = userDirectory(stack.baseDir, alice, 'no-userns-mnt');
  const result = await nsmountctl(alice, stack.address, ['idmap', home, '--attach', target, '--userns', 'nothing-here']);
  t.is(result.code, 1);
  t.true(isOneLineError(result.stderr), result.stderr);
  t.regex(result.stderr, /you have no user namespace named "nothing-here"/);
});

rootTest('idmap --attach at a non-empty directory names --attach, not the D-Bus option', async (t) => {
  const home = await foreignHome('busy');
  const target = userDirectory(stack.baseDir, alice, 'busy-mnt');
  fs.writeFileSync(path.join(target, 'x'), '');
  const result = await nsmountctl(alice, stack.address, ['idmap', home, '--attach', target]);
  t.is(result.code, 1);
  t.true(isOneLineError(result.stderr), result.stderr);
  t.is(result.stderr, `nsmountctl idmap: --attach ${target}: the target directory is not empty: attach at an empty directory\n`);
});

rootTest('unmount of a directory nsmountd did not attach quotes no mount id', async (t) => {
  const plain = userDirectory(stack.baseDir, alice, 'plain');
  const result = await nsmountctl(alice, stack.address, ['unmount', plain]);
  t.is(result.stderr, `nsmountctl unmount: nsmountd did not attach anything at ${plain}: "nsmountctl status" lists your attachments\n`);
});

rootTest('mount --read-write mounts an untrusted image writable; without it, read-only', async (t) => {
  const dir = userDirectory(stack.baseDir, alice, 'rw-images');
  const image = makeExt4(dir, 'rw.ext4', { files: { 'hello.txt': 'hi\n' } });
  fs.chownSync(image, alice.uid, alice.gid);
  const plain = await nsmountctl(alice, stack.address, ['mount', image, '--json']);
  t.is(plain.code, 0, plain.stderr);
  t.like(JSON.parse(plain.stdout).partitions[0], { readOnly: true });
  const writable = await nsmountctl(alice, stack.address, ['mount', image, '--read-write', '--json']);
  t.is(writable.code, 0, writable.stderr);
  t.like(JSON.parse(writable.stdout).partitions[0], { readOnly: false });
});

rootTest('an untrusted-image refusal says why the image is untrusted; with --json it is a JSON line', async (t) => {
  const dir = userDirectory(stack.baseDir, bob, 'bob-images');
  const image = makeExt4(dir, 'b.ext4');
  fs.chownSync(image, bob.uid, bob.gid);
  const text = await nsmountctl(bob, stack.address, ['mount', image]);
  t.is(text.code, 1);
  t.true(isOneLineError(text.stderr), text.stderr);
  t.regex(text.stderr, /mount untrusted images \(the image is untrusted: only a root-owned image, not writable by others, in one of the image directories of nsmountd\.conf is trusted/);
  const json = await nsmountctl(bob, stack.address, ['mount', image, '--json']);
  t.is(json.code, 1);
  t.is(json.stdout, '');
  const error = JSON.parse(json.stderr);
  t.like(error, { command: 'mount', error: 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired' });
  t.regex(error.message, /^authentication is needed to mount untrusted images \(the image is untrusted/);
  t.regex(error.hint, /--interactive/);
});

rootTest('a usage error under --json is JSON too', async (t) => {
  const result = await nsmountctl(alice, stack.address, ['--json', 'mount', 'x.img', '--read-write', '--read-only']);
  t.is(result.code, 2);
  t.deepEqual(JSON.parse(result.stderr), {
    command: 'mount',
    error: 'nsmountctl.UsageError',
    message: 'give at most one of --read-write and --read-only',
    hint: 'see nsmountctl mount --help',
  });
});

rootTest('mount --mode owner shows a root-made image as the caller\'s own; an unknown mode is a usage error', async (t) => {
  const dir = userDirectory(stack.baseDir, alice, 'owner-images');
  const image = makeExt4(dir, 'o.ext4', { files: { 'hello.txt': 'hi\n' } });
  fs.chownSync(image, alice.uid, alice.gid);
  const target = path.join(dir, 'mnt');
  const mounted = await nsmountctl(alice, stack.address, ['mount', image, '--attach', target, '--mode', 'owner', '--read-write']);
  t.is(mounted.code, 0, mounted.stderr);
  try {
    t.is(fs.statSync(target).uid, alice.uid);
    t.is(fs.statSync(path.join(target, 'hello.txt')).uid, alice.uid);
    // Her own in fact, not only in ls: she can write at the image's root.
    const wrote = await runAsUser(alice, ['touch', path.join(target, 'mine')]);
    t.is(wrote.code, 0, wrote.stderr);
  } finally {
    t.is((await nsmountctl(alice, stack.address, ['unmount', target])).code, 0);
  }
  const bad = await nsmountctl(alice, stack.address, ['mount', image, '--mode', 'foreign']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--mode must be one of identity, owner, not "foreign"/);
});
