// Many Mounts at once from several users: each one succeeds or fails on its
// own, and afterwards the daemon holds exactly the fds it held before and no
// loop device is left.
import test from 'ava';
import fs from 'node:fs';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { v } from '../helpers/call';
import { alice, bob, carol, dave } from '../helpers/users';
import { makeExt4, makeGpt, TYPE_HOME, TYPE_ROOT_X86_64, tempDir, waitForNoLoopDevicesUnder } from '../helpers/images';
import { entries, expectError, expectOk, fdArg, makeImageDirs, mountAs, place, thenOutput, type ImageDirs } from './mount-fixture';

let dirs: ImageDirs;
let ext4: string;
let gpt: string;
let untrusted: string;

test.before(async () => {
  if (rootSkipReason) return;
  dirs = makeImageDirs();
  const build = tempDir('nsmountd-load-build-');
  ext4 = place(makeExt4(build, 'load.ext4', { files: { 'hello.txt': 'load\n' } }), dirs.trusted);
  const part = makeExt4(build, 'p.ext4', { sizeMiB: 8, files: { 'hello.txt': 'load\n' } });
  gpt = place(makeGpt(build, 'load.gpt', [
    { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: part },
    { type: TYPE_HOME, sizeMiB: 8, content: part },
  ]).image, dirs.trusted);
  untrusted = place(makeExt4(build, 'untrusted.ext4'), dirs.untrusted, alice);
  fs.rmSync(build, { recursive: true, force: true });
});
const stack = useTestStack(() => ({ config: dirs.config }));
test.after.always(async () => {
  if (dirs) fs.rmSync(dirs.base, { recursive: true, force: true });
});

rootTest('20 concurrent Mounts from five callers all succeed or fail cleanly, leaving no fd or loop device', async (t) => {
  const before = stack.daemon.fdCount();
  const users = [alice, bob, carol, dave, 'root'] as const;
  const calls = Array.from({ length: 20 }, (_, i) => {
    const user = users[i % users.length];
    if (i % 7 === 6) {
      // Interleaved refusals: an untrusted image without a rule.
      return mountAs(alice, stack.address, fdArg(untrusted)).then((r) => ({ i, r, expectOk: false }));
    }
    const image = i % 2 ? gpt : ext4;
    return mountAs(user, stack.address, fdArg(image), { ReadOnly: v('b', true) }, {
      then: 'for f in /proc/self/fd/$FD0 ${FD1:+/proc/self/fd/$FD1}; do cat $f/hello.txt; done',
    }).then((r) => ({ i, r, expectOk: true }));
  });
  const results = await Promise.all(calls);
  for (const { i, r, expectOk: ok } of results) {
    if (!ok) {
      expectError(t, r, 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired');
      continue;
    }
    const reply = expectOk(t, r);
    const count = i % 2 ? 2 : 1;
    t.is(entries(reply).length, count, `call ${i}`);
    t.is(thenOutput(t, reply), 'load\n'.repeat(count), `call ${i}`);
  }
  t.deepEqual(await waitForNoLoopDevicesUnder(dirs.base, 5000), []);
  t.is(stack.daemon.fdCount(), before);
});
