// The one check both AttachTo methods (IdmapDirectory, Mount) must pass
// when the target is a directory on a FUSE file system whose server stops
// answering: looking into the target (empty? mounted over?) runs on libuv's
// pool, so bob's Ping is answered meanwhile; alice's call ends after
// [daemon] io_timeout_sec with Unavailable naming options.AttachTo; once
// the server answers again nothing is attached or left open, and the same
// call attaches, so the time limit was all that failed it.
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { alice } from '../helpers/users';
import { ERR } from './mount-fixture';
import { callWithFds, delay, pingAsBob, type FdCall, type FuseFixture } from './fuse-fixture';

export interface HangingTargetCase {
  /** alice's call: the fds are the source (3) and the target (4). */
  call: FdCall;
  /** alice's fd of what she idmaps or mounts. */
  openSource: () => number;
  /** Whatever else must be gone once the server answers (loop devices...). */
  leftovers?: (t: ExecutionContext) => void;
}

export async function attachToHangingTarget(t: ExecutionContext, { stack, fuse }: FuseFixture, c: HangingTargetCase): Promise<void> {
  const target = path.join(fuse().directory, 'sub');
  const mountsAtTarget = () =>
    fs
      .readFileSync(`/proc/${stack.daemon.pid}/mountinfo`, 'utf8')
      .split('\n')
      .filter((line) => line.split(' ')[4] === target);
  const fds = [c.openSource(), fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)];
  const fdsBefore = stack.daemon.fdCount();
  let released = false;
  try {
    await fuse().hang();
    const answer = callWithFds(alice, stack.address, c.call, fds, 30000);
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
    t.deepEqual(mountsAtTarget(), [], 'mounts at the target');
    c.leftovers?.(t);
    const again = await callWithFds(alice, stack.address, c.call, fds, 30000);
    t.like(again, { ok: true });
    t.is(mountsAtTarget().length, 1, 'mounts at the target');
  } finally {
    if (!released) await fuse().release();
    for (const fd of fds) fs.closeSync(fd);
  }
}
