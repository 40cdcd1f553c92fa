// Two AttachTo calls of alice's at the same directory on FUSE, at the
// same time. Looking into such a target (empty? mounted over?) runs on
// libuv's pool, so both calls were once able to pass their last look
// before either attached, and the second mount was stacked on the first.
// The FUSE server holds every OPENDIR (the emptiness check, the last look
// of a check; READDIRs of a directory would reach it one at a time) until told: first both calls' checks before polkit, then
// the last look after it, so both pass the over-mount lookup before either
// can attach. What must hold: one call attaches, the other is refused with
// AlreadyMounted naming options.AttachTo and leaves nothing behind (no
// mount, no registry record, no fd, no loop device); meanwhile bob's calls
// that need the registry are answered.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootSkipReason, rootTest } from '../helpers/root';
import { callAs, v, type CallResult } from '../helpers/call';
import { alice, bob } from '../helpers/users';
import { loopDevicesUnder, makeExt4 } from '../helpers/images';
import { allowUntrustedImages } from '../helpers/polkit-rules';
import { ERR } from './mount-fixture';
import { callWithFds, delay, useHangingFuse, type FdCall } from './fuse-fixture';

const fixture = useHangingFuse({ config: '[daemon]\nio_timeout_sec = 30\n', rules: allowUntrustedImages(alice) });
const { stack, fuse } = fixture;

let source: string;
let image: string;
test.before(() => {
  if (rootSkipReason) return;
  source = path.join(fixture.base(), 'source');
  fs.mkdirSync(source, { mode: 0o755 });
  fs.chownSync(source, alice.uid, alice.gid);
  image = makeExt4(fixture.base(), 'local.ext4', { sizeMiB: 8 });
  fs.chmodSync(image, 0o644);
});

interface Case {
  /** alice's call: the fds are the source (3) and the target (4). */
  call: FdCall;
  openSource: () => number;
}

const mountsAt = (target: string) =>
  fs
    .readFileSync(`/proc/${stack.daemon.pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter((line) => line.split(' ')[4] === target);

/** alice's Unmount of what is mounted at `target` now. */
async function unmountAt(target: string): Promise<CallResult> {
  const mountRoot = fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    return await callWithFds(alice, stack.address, { member: 'Unmount', signature: 'ha{sv}', body: [{ $fd: 3 }, {}] }, [mountRoot]);
  } finally {
    fs.closeSync(mountRoot);
  }
}

const opendirsHeld = () => fuse().held().filter((line) => line.startsWith('held opendir ')).length;

/** Until `count` OPENDIRs are held, or none more came for 3 s. */
async function untilHeld(count: number): Promise<void> {
  let seen = opendirsHeld();
  for (let quiet = 0; seen < count && quiet < 60; quiet++) {
    await delay(50);
    const now = opendirsHeld();
    if (now !== seen) quiet = 0;
    seen = now;
  }
}

const concurrentAttach = test.macro({
  async exec(t, c: Case) {
    const target = path.join(fuse().directory, 'sub');
    // Each call its own files, as two clients would have.
    const fdsOfCall = () => [c.openSource(), fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)];
    const fds = [...fdsOfCall(), ...fdsOfCall()];
    const fdsBefore = stack.daemon.fdCount();
    const heldBefore = opendirsHeld();
    let holding = true;
    try {
      await fuse().hang({ op: 'opendir' });
      const answers = [callWithFds(alice, stack.address, c.call, fds.slice(0, 2), 60000), callWithFds(alice, stack.address, c.call, fds.slice(2), 60000)];
      // Both checks before polkit.
      await fuse().waitForHeld({ op: 'opendir', since: heldBefore + 1, timeoutMs: 30000 });
      await fuse().releaseHeld();
      // Both last looks after polkit (and Mount's image), each past its
      // over-mount lookup; a call that waits for the other's look sends none.
      await untilHeld(heldBefore + 4);
      const bobs = await callAs(bob, stack.address, 'ListMounts', 'a{sv}', [{}]);
      t.like(bobs, { ok: true }, "bob's ListMounts while alice's last look waits for the server");
      await fuse().release();
      holding = false;
      const results: CallResult[] = await Promise.all(answers);
      const ok = results.filter((r) => r.ok);
      const refused = results.filter((r) => !r.ok);
      t.is(ok.length, 1, `one call attaches: ${JSON.stringify(results)}`);
      t.is(refused.length, 1, 'the other is refused');
      t.like(refused[0], { name: `${ERR}AlreadyMounted` });
      if (refused[0] && !refused[0].ok) t.regex(refused[0].message, /^options\.AttachTo: /);
      t.is(mountsAt(target).length, 1, 'mounts at the target');
      const listed = await callAs(alice, stack.address, 'ListMounts', 'a{sv}', [{}]);
      t.like(listed, { ok: true });
      if (listed.ok) t.is((listed.body[0] as unknown[]).length, 1, "alice's recorded attachments");
      // alice's client closed her copies of the mount fds; the loser's are closed by the daemon.
      for (let i = 0; i < 100 && stack.daemon.fdCount() > fdsBefore; i++) await delay(50);
      t.is(stack.daemon.fdCount(), fdsBefore, "the daemon's fds");
      t.true(loopDevicesUnder(fixture.base()).length <= 1, `loop devices of the image: ${loopDevicesUnder(fixture.base()).join(', ')}`);
      t.like(await unmountAt(target), { ok: true }, "Unmount of the winner's mount");
      t.deepEqual(mountsAt(target), [], 'mounts at the target after Unmount');
    } finally {
      if (holding) await fuse().release();
      for (const fd of fds) fs.closeSync(fd);
      // Whatever else is mounted there (the old code's second mount) goes too, so the next case starts clean.
      for (let i = 0; i < 5 && mountsAt(target).length > 0; i++) await unmountAt(target);
    }
  },
  title: (_provided, c: Case) => `two concurrent ${c.call.member} calls with AttachTo the same FUSE directory: one attaches, the other gets AlreadyMounted and leaves nothing`,
});

rootTest.serial(concurrentAttach, {
  call: { member: 'IdmapDirectory', signature: 'ha{sv}', body: [{ $fd: 3 }, { Mode: v('s', 'identity'), AttachTo: v('h', { $fd: 4 }) }] },
  openSource: () => fs.openSync(source, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY),
});

rootTest.serial(concurrentAttach, {
  call: { member: 'Mount', signature: 'ha{sv}', body: [{ $fd: 3 }, { ReadOnly: v('b', true), AttachTo: v('h', { $fd: 4 }) }] },
  openSource: () => fs.openSync(image, fs.constants.O_RDONLY),
});
