// [mounts] attachments_per_uid: each attachment is a mount in the host
// namespace, so one user cannot make them without bound.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v, type CallResult } from '../helpers/call';
import { alice, bob, type TestUser } from '../helpers/users';
import { loopDevicesUnder, makeExt4, tempDir } from '../helpers/images';
import { expectError, expectOk, fdArg, makeImageDirs, mountAs, place, type ImageDirs } from '../methods/mount-fixture';

const LIMIT = 2;
let dirs: ImageDirs;
let image: string;

test.before(async () => {
  if (rootSkipReason) return;
  dirs = makeImageDirs();
  const build = tempDir('nsmountd-limit-build-');
  image = place(makeExt4(build, 'limit.ext4', {}), dirs.trusted);
  fs.rmSync(build, { recursive: true, force: true });
});
test.after.always(async () => {
  if (stack) for (const target of attachedUnder(dirs.base)) spawnSync('umount', ['-l', target]);
});
const stack = useTestStack(() => ({ config: `${dirs.config}\n[mounts]\nattachments_per_uid = ${LIMIT}\n` }));
test.after.always(async () => {
  if (dirs) fs.rmSync(dirs.base, { recursive: true, force: true });
});

/** An empty directory owned by `owner` in a fresh directory of hers: a source or an attach target. */
function ownDir(name: string, owner: TestUser): string {
  const dir = path.join(dirs.untrusted, name);
  fs.mkdirSync(dir);
  fs.chownSync(dir, owner.uid, owner.gid);
  return dir;
}

const idmapAttach = (user: TestUser | 'root', source: string, target: string): Promise<CallResult> =>
  callAs(user, stack.address, 'IdmapDirectory', 'ha{sv}', [
    fdArg(source, 'path-dir'),
    // "auto" maps a directory its caller owns; root is not its owner.
    { AttachTo: v('h', fdArg(target, 'path-dir')), Mode: v('s', user === 'root' ? 'identity' : 'auto') },
  ]);
const unmount = (user: TestUser | 'root', target: string): Promise<CallResult> =>
  callAs(user, stack.address, 'Unmount', 'ha{sv}', [fdArg(target, 'path-dir'), {}]);
const attachedUnder = (dir: string): string[] =>
  fs
    .readFileSync(`/proc/${stack.daemon.pid}/mountinfo`, 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p) => p !== undefined && p.startsWith(dir + '/'));
const listed = async (t: ExecutionContext, user: TestUser): Promise<string[]> =>
  (expectOk(t, await callAs(user, stack.address, 'ListMounts', 'a{sv}', [{}])).body[0] as Array<[string]>).map((m) => m[0]);

rootSerial(`past ${LIMIT} attachments a user gets QuotaExceeded for IdmapDirectory and Mount, and nothing is left of the refused call`, async (t) => {
  const source = ownDir('source', alice);
  const targets = ['a', 'b', 'c', 'd'].map((name) => ownDir(`target-${name}`, alice));
  expectOk(t, await idmapAttach(alice, source, targets[0]));
  expectOk(t, await mountAs(alice, stack.address, fdArg(image), { AttachTo: v('h', fdArg(targets[1], 'path-dir')) }));

  expectError(t, await idmapAttach(alice, source, targets[2]), 'QuotaExceeded', /^You already have 2 attachments \(limit 2\)/);
  expectError(t, await mountAs(alice, stack.address, fdArg(image), { AttachTo: v('h', fdArg(targets[3], 'path-dir')) }), 'QuotaExceeded', /limit 2/);
  t.is(loopDevicesUnder(dirs.base).length, 1, 'the refused Mount set up no loop device');
  t.deepEqual(attachedUnder(dirs.untrusted).sort(), [targets[0], targets[1]]);
  t.deepEqual((await listed(t, alice)).sort(), [targets[0], targets[1]]);

  // Another user's count is his own, and root is not limited.
  const bobSource = ownDir('bob-source', bob);
  expectOk(t, await idmapAttach(bob, bobSource, ownDir('bob-target', bob)));
  expectOk(t, await idmapAttach('root', source, targets[2]));

  // One Unmount makes room again.
  expectOk(t, await unmount(alice, targets[0]));
  expectOk(t, await idmapAttach(alice, source, targets[3]));
  expectError(t, await idmapAttach(alice, source, targets[0]), 'QuotaExceeded');

  expectOk(t, await unmount(alice, targets[1]));
  expectOk(t, await unmount(alice, targets[3]));
  expectOk(t, await unmount(bob, path.join(dirs.untrusted, 'bob-target')));
  expectOk(t, await unmount('root', targets[2]));
  t.deepEqual(attachedUnder(dirs.untrusted), []);
});
