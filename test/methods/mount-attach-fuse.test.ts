// Mount's AttachTo on a directory of a FUSE file system whose server stops
// answering: checking that the target is empty and not mounted over asks
// the server, as for IdmapDirectory (idmap-directory-attach-fuse.test.ts).
// Those looks run on libuv's pool: bob's Ping is answered meanwhile, alice's
// call ends after [daemon] io_timeout_sec with Unavailable, nothing is
// attached, no loop device or fd is left, and once the server answers again
// the same call attaches.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootSkipReason, rootTest } from '../helpers/root';
import { v } from '../helpers/call';
import { alice } from '../helpers/users';
import { loopDevicesUnder, makeExt4 } from '../helpers/images';
import { allowUntrustedImages } from '../helpers/polkit-rules';
import { ERR } from './mount-fixture';
import { callWithFds, delay, pingAsBob, useHangingFuse, type FdCall } from './fuse-fixture';

const { stack, fuse, base } = useHangingFuse({ config: '[daemon]\nio_timeout_sec = 2\n', rules: allowUntrustedImages(alice) });

let image: string;
test.before(() => {
  if (rootSkipReason) return;
  // The image itself is on a local disk: only the target is on the hanging server.
  image = makeExt4(base(), 'local.ext4', { sizeMiB: 8 });
  fs.chmodSync(image, 0o644);
});

const ATTACH: FdCall = { member: 'Mount', signature: 'ha{sv}', body: [{ $fd: 3 }, { ReadOnly: v('b', true), AttachTo: v('h', { $fd: 4 }) }] };

function daemonMountsAt(target: string): string[] {
  return fs
    .readFileSync(`/proc/${stack.daemon.pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter((line) => line.split(' ')[4] === target);
}

rootTest.serial('Mount with AttachTo a directory on a hanging FUSE file system stalls nothing, times out with Unavailable and leaves nothing', async (t) => {
  const target = path.join(fuse().directory, 'sub');
  const fds = [fs.openSync(image, fs.constants.O_RDONLY), fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)];
  const fdsBefore = stack.daemon.fdCount();
  let released = false;
  try {
    await fuse().hang();
    const answer = callWithFds(alice, stack.address, ATTACH, fds, 30000);
    await fuse().waitForHeld({ timeoutMs: 20000 });
    const ping = await pingAsBob(stack.address);
    t.true(ping.ok, `bob's Ping while alice's AttachTo waits for the server: ${JSON.stringify(ping)}`);
    const result = await answer;
    t.like(result, { ok: false, name: `${ERR}Unavailable` });
    if (!result.ok) t.regex(result.message, /^options\.AttachTo: .*did not answer within 2 s/);
    await fuse().release();
    released = true;
    for (let i = 0; i < 100 && stack.daemon.fdCount() > fdsBefore; i++) await delay(50);
    t.is(stack.daemon.fdCount(), fdsBefore, "the daemon's fds");
    t.deepEqual(daemonMountsAt(target), [], 'mounts at the target');
    t.deepEqual(loopDevicesUnder(base()), [], 'loop devices of the image');
    // The server answers again: the same call attaches, so the time limit was all that failed it.
    const again = await callWithFds(alice, stack.address, ATTACH, fds, 30000);
    t.like(again, { ok: true });
    t.is(daemonMountsAt(target).length, 1, 'mounts at the target');
  } finally {
    if (!released) await fuse().release();
    for (const fd of fds) fs.closeSync(fd);
  }
});
