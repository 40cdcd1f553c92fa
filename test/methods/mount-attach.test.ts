// Mount's AttachTo, the desktop case: a user mounts an image on an empty
// directory of hers, sees it in ListMounts and takes it down with Unmount.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v } from '../helpers/call';
import { alice, bob } from '../helpers/users';
import { TYPE_HOME, TYPE_ROOT_X86_64, loopDevicesUnder, makeExt4, makeGpt, tempDir, waitForNoLoopDevicesUnder } from '../helpers/images';
import { entries, expectError, expectOk, fdArg, makeImageDirs, mountAs, place, thenOutput, type ImageDirs } from './mount-fixture';

let dirs: ImageDirs;
let ext4: string;
let gpt: string;

test.before(async () => {
  if (rootSkipReason) return;
  dirs = makeImageDirs();
  const build = tempDir('nsmountd-attach-build-');
  ext4 = place(makeExt4(build, 'desktop.ext4', { files: { 'hello.txt': 'attached\n' } }), dirs.trusted);
  gpt = place(
    makeGpt(build, 'desktop.gpt', [
      { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: makeExt4(build, 'r.ext4', { sizeMiB: 8, files: { 'etc/os-release': 'ID=attached-root\n' } }) },
      { type: TYPE_HOME, sizeMiB: 8, content: makeExt4(build, 'h.ext4', { sizeMiB: 8, files: { notes: 'home via fd\n' } }) },
    ]).image,
    dirs.trusted,
  );
  fs.rmSync(build, { recursive: true, force: true });
});
const stack = useTestStack(() => ({ config: dirs.config }));
test.after.always(async () => {
  if (dirs) fs.rmSync(dirs.base, { recursive: true, force: true });
});
test.afterEach.always(async (t) => {
  if (rootSkipReason) return;
  // Autoclear runs when the kernel drops the last mount reference, which a loaded machine defers.
  t.deepEqual(await waitForNoLoopDevicesUnder(dirs.base, 10000), [], 'a loop device outlived its mounts');
});

/** A fresh empty directory owned by `user`, as a desktop user's ~/mnt would be. */
function mountPoint(name: string, owner = alice): string {
  const dir = path.join(dirs.untrusted, name);
  fs.mkdirSync(dir);
  fs.chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/** The daemon's mountinfo line for `target` (the daemon shares the test's mount namespace). */
function mountinfoLine(target: string): string | undefined {
  return fs.readFileSync(`/proc/${stack.daemon.pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === target);
}

const listMounts = async (t: Parameters<typeof expectOk>[0], user: typeof alice) =>
  expectOk(t, await callAs(user, stack.address, 'ListMounts', 'a{sv}', [{}])).body[0] as Array<[string, number, string, string, number]>;

rootTest.serial('AttachTo mounts the image on her directory, nosuid,nodev; ListMounts shows it; Unmount takes it down', async (t) => {
  const target = mountPoint('desktop');
  const r = expectOk(t, await mountAs(alice, stack.address, fdArg(ext4), { AttachTo: v('h', fdArg(target, 'path-dir')) }));
  t.deepEqual(entries(r).map((e) => e[0]), ['root']);
  t.is(fs.readFileSync(path.join(target, 'hello.txt'), 'utf8'), 'attached\n');
  const line = mountinfoLine(target);
  t.truthy(line, 'attached in the daemon mount namespace');
  const perMount = line!.split(' ')[5].split(',');
  t.true(perMount.includes('nosuid') && perMount.includes('nodev'), line);
  // Her client has exited: the attachment alone keeps the loop device.
  t.is(loopDevicesUnder(dirs.base).length, 1);

  const listed = await listMounts(t, alice);
  t.true(listed.some((m) => m[0] === target && m[1] === alice.uid && m[2] === ext4 && m[3] === 'image:root'), JSON.stringify(listed));
  t.false((await listMounts(t, bob)).some((m) => m[0] === target), 'bob sees only his own');

  expectOk(t, await callAs(alice, stack.address, 'Unmount', 'ha{sv}', [fdArg(target, 'path-dir'), {}]));
  t.is(mountinfoLine(target), undefined);
  t.false((await listMounts(t, alice)).some((m) => m[0] === target));
  t.deepEqual(fs.readdirSync(target), []);
});

rootTest.serial('AttachTo with a GPT image attaches the root partition and returns home as an fd only', async (t) => {
  const target = mountPoint('gpt');
  const r = expectOk(t, await mountAs(alice, stack.address, fdArg(gpt), { AttachTo: v('h', fdArg(target, 'path-dir')) }, {
    then: 'cat /proc/self/fd/$FD1/notes',
  }));
  t.deepEqual(entries(r).map((e) => e[0]), ['root', 'home']);
  t.is(thenOutput(t, r), 'home via fd\n');
  t.is(fs.readFileSync(path.join(target, 'etc/os-release'), 'utf8'), 'ID=attached-root\n');
  // home went with the client's fds; root stays attached.
  t.deepEqual(loopDevicesUnder(dirs.base).length, 1);
  expectOk(t, await callAs(alice, stack.address, 'Unmount', 'ha{sv}', [fdArg(target, 'path-dir'), {}]));
  t.is(mountinfoLine(target), undefined);
});

rootTest.serial('AttachTo refuses a non-empty directory and one she does not own, leaving no loop device', async (t) => {
  const full = mountPoint('full');
  fs.writeFileSync(path.join(full, 'file'), 'x');
  expectError(t, await mountAs(alice, stack.address, fdArg(ext4), { AttachTo: v('h', fdArg(full, 'path-dir')) }), 'NotEmpty', /^options\.AttachTo: /);
  const bobs = mountPoint('bobs', bob);
  expectError(t, await mountAs(alice, stack.address, fdArg(ext4), { AttachTo: v('h', fdArg(bobs, 'path-dir')) }), 'NotOwner', /^options\.AttachTo: /);
  expectError(t, await mountAs(alice, stack.address, fdArg(ext4), { AttachTo: v('h', fdArg(ext4)) }), 'BadFileDescriptor', /^options\.AttachTo: .*regular file/);
  t.is(mountinfoLine(full), undefined);
});
