// The portable-home flow (idmap --attach, unmount) and image attachment
// (mount --attach), as an unprivileged user.
import fs from 'node:fs';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice, bob } from '../helpers/users';
import { nsmountctl, isOneLineError } from '../helpers/nsmountctl';
import { userDirectory } from '../helpers/user-dirs';
import { makeExt4 } from '../helpers/images';
import { runAsUser } from '../helpers/as-user';

const stack = useTestStack({
  rules: `polkit.addRule(function (action, subject) {
    // Images in a user's own directory are untrusted; this test trusts alice with them.
    if (action.id == "org.nsmount.mount-image-untrusted" && subject.user == "${alice.name}") return polkit.Result.YES;
    if (action.id == "org.nsmount.allocate-user-namespace" && subject.user == "${bob.name}") return polkit.Result.AUTH_ADMIN;
  });`,
});

rootTest('idmap --attach attaches a home read-write for its owner, and unmount detaches it', async (t) => {
  const home = userDirectory(stack.baseDir, alice, 'portable-home');
  fs.writeFileSync(path.join(home, 'diary'), 'dear diary\n', { mode: 0o600 });
  fs.chownSync(path.join(home, 'diary'), alice.uid, alice.gid);
  const target = userDirectory(stack.baseDir, alice, 'attach-home');

  const attached = await nsmountctl(alice, stack.address, ['idmap', home, '--attach', target, '--mode', 'owner']);
  t.is(attached.code, 0, attached.stderr);
  t.is(attached.stdout, `attached ${home} at ${target} (owner)\n`);
  const listed = JSON.parse((await nsmountctl(alice, stack.address, ['status', '--json'])).stdout);
  // Other tests of this file attach concurrently: look at this target only.
  const mine = (mounts: Array<{ target: string; kind: string; ownerUid: number }>) => mounts.filter((m) => m.target === target);
  t.like(mine(listed.mounts), [{ target, kind: 'directory', ownerUid: alice.uid }]);
  // Owner mode: the home's owner appears as the caller, so alice owns what she sees.
  t.is(fs.statSync(target).uid, alice.uid);
  const read = await runAsUser(alice, ['cat', path.join(target, 'diary')]);
  t.is(read.stdout, 'dear diary\n', read.stderr);

  const detached = await nsmountctl(alice, stack.address, ['unmount', target]);
  t.is(detached.code, 0, detached.stderr);
  t.is(detached.stdout, `unmounted ${target}\n`);
  t.deepEqual(fs.readdirSync(target), []);
  const after = JSON.parse((await nsmountctl(alice, stack.address, ['status', '--json'])).stdout);
  t.deepEqual(mine(after.mounts), []);
});

rootTest('unmount of a directory nsmountd did not attach fails in one line', async (t) => {
  const plain = userDirectory(stack.baseDir, alice, 'not-a-mount');
  const result = await nsmountctl(alice, stack.address, ['unmount', plain]);
  t.is(result.code, 1);
  t.true(isOneLineError(result.stderr), result.stderr);
  t.regex(result.stderr, /did not attach/);
});

rootTest('idmap --attach at a non-empty directory says so, with a hint', async (t) => {
  const home = userDirectory(stack.baseDir, alice, 'home-2');
  const target = userDirectory(stack.baseDir, alice, 'busy-target');
  fs.writeFileSync(path.join(target, 'x'), '');
  const result = await nsmountctl(alice, stack.address, ['idmap', home, '--attach', target]);
  t.is(result.code, 1);
  t.true(isOneLineError(result.stderr), result.stderr);
  t.regex(result.stderr, /not empty: attach at an empty directory/);
});

rootTest('mount --attach keeps an ext4 image attached until unmount', async (t) => {
  const dir = userDirectory(stack.baseDir, alice, 'images');
  const image = makeExt4(dir, 'data.ext4', { label: 'demo-data', files: { 'hello.txt': 'from the image\n' } });
  fs.chownSync(image, alice.uid, alice.gid);
  const target = userDirectory(stack.baseDir, alice, 'attach-image');
  const mounted = await nsmountctl(alice, stack.address, ['mount', image, '--attach', target, '--read-only', '--json']);
  t.is(mounted.code, 0, mounted.stderr);
  const report = JSON.parse(mounted.stdout);
  t.is(report.attachedAt, target);
  t.is(report.partitions.length, 1);
  t.like(report.partitions[0], { fstype: 'ext4', label: 'demo-data', readOnly: true });
  t.is(fs.readFileSync(path.join(target, 'hello.txt'), 'utf8'), 'from the image\n');

  const detached = await nsmountctl(alice, stack.address, ['unmount', target]);
  t.is(detached.code, 0, detached.stderr);
  t.false(fs.existsSync(path.join(target, 'hello.txt')));
});

rootTest('a call that needs authentication names --interactive; with it and no agent, it says nobody was there to ask', async (t) => {
  const plain = await nsmountctl(bob, stack.address, ['status']);
  t.is(plain.code, 1);
  t.true(isOneLineError(plain.stderr), plain.stderr);
  t.regex(plain.stderr, /authentication is needed to allocate user namespaces: run again with --interactive/);
  const interactive = await nsmountctl(bob, stack.address, ['--interactive', 'status']);
  t.is(interactive.code, 1);
  t.true(isOneLineError(interactive.stderr), interactive.stderr);
  // NotAuthorizedCanObtain: a password would do, nobody was there to ask for it.
  t.regex(
    interactive.stderr,
    /authentication is needed to allocate user namespaces, but nobody was there to ask for a password: run it from a desktop session, or start a polkit agent in this terminal first \(pkttyagent\)/,
  );
});
