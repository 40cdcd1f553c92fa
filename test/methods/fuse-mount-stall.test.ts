// Mount of an image on a FUSE file system whose server stops answering
// (test/helpers/hanging-fuse.ts). Polkit allows alice and bob untrusted
// images, so the call reaches the reads of the image, which wait for the
// server: they run off the event loop, so bob is answered meanwhile; the
// call ends with Unavailable after [daemon] io_timeout_sec; once the server
// answers again, the abandoned work finishes and takes itself back. While
// io_calls_per_uid of alice's calls are stuck, her next one is refused at
// once with QuotaExceeded, and bob's Mount of another image still works.
import fs from 'node:fs';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { alice, bob } from '../helpers/users';
import { callAs, v, type CallResult } from '../helpers/call';
import { loopDevicesUnder, makeExt4 } from '../helpers/images';
import { allowUntrustedImages } from '../helpers/polkit-rules';
import { ERR } from './mount-fixture';
import { callWithFd, pingAsBob, useHangingFuse, type FdCall } from './fuse-fixture';

const IO_TIMEOUT_SEC = 2;
const IO_CALLS_PER_UID = 2;

const { stack, fuse, base } = useHangingFuse({
  config: `[daemon]\nio_timeout_sec = ${IO_TIMEOUT_SEC}\nio_calls_per_uid = ${IO_CALLS_PER_UID}\n`,
  rules: `${allowUntrustedImages(alice)}\n${allowUntrustedImages(bob)}`,
});

const MOUNT: FdCall = { member: 'Mount', signature: 'ha{sv}', body: [{ $fd: 3 }, { ReadOnly: v('b', true) }] };

/** Mount points under the test's directory in the daemon's namespace (other test files mount elsewhere meanwhile). */
function daemonMounts(): string[] {
  return fs
    .readFileSync(`/proc/${stack.daemon.pid}/mountinfo`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point) => point.startsWith(`${base()}/`));
}

async function until(probe: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** alice's Mounts of the hanging image, each waiting on the server before the next starts. */
async function stuckMounts(fd: number, count: number): Promise<Promise<CallResult>[]> {
  const calls: Promise<CallResult>[] = [];
  for (let i = 0; i < count; i++) {
    const since = fuse().held().length;
    calls.push(callWithFd(alice, stack.address, MOUNT, fd, 30000));
    await fuse().waitForHeld({ since });
  }
  return calls;
}

/** Once the server answers, the daemon holds what it held before: no loop device, mount or fd of the calls. */
async function nothingLeft(t: import('ava').ExecutionContext, before: { mounts: string[]; fds: number }): Promise<void> {
  const settled = await until(() => loopDevicesUnder(fuse().mountpoint).length === 0 && stack.daemon.fdCount() <= before.fds, 20000);
  t.true(settled, `left: loop devices ${JSON.stringify(loopDevicesUnder(fuse().mountpoint))}, fds ${stack.daemon.fdCount()} (before ${before.fds})`);
  t.deepEqual(daemonMounts(), before.mounts);
  const listed = await callAs(alice, stack.address, 'ListMounts', 'a{sv}', [{}]);
  t.like(listed, { ok: true, body: [[]] });
}

/** The image mounts once the server answers: alice's share of the pool is free again. */
async function mountsAgain(t: import('ava').ExecutionContext): Promise<void> {
  const again = await callAs(alice, stack.address, 'Mount', 'ha{sv}', [{ $fd: fuse().image, mode: 'r' }, { ReadOnly: v('b', true) }], { timeoutMs: 30000 });
  t.true(again.ok, JSON.stringify(again));
}

rootTest.serial('Mount of an image on a hanging FUSE file system: others are served, the call fails after the time limit, nothing is left', async (t) => {
  const before = { mounts: daemonMounts(), fds: stack.daemon.fdCount() };
  const image = fs.openSync(fuse().image, 'r');
  try {
    await fuse().hang();
    const [mount] = await stuckMounts(image, 1);
    const ping = await pingAsBob(stack.address);
    t.true(ping.ok, `bob's Ping while alice's Mount waits for the server: ${JSON.stringify(ping)}`);
    const result = await mount;
    t.like(result, { ok: false, name: `${ERR}Unavailable` });
    t.regex(result.ok ? '' : result.message, new RegExp(`did not answer within ${IO_TIMEOUT_SEC} s`));
  } finally {
    await fuse().release();
    fs.closeSync(image);
  }
  await nothingLeft(t, before);
  await mountsAgain(t);
});

rootTest.serial("with io_calls_per_uid of alice's calls stuck, her next is refused at once while bob's Mount works", async (t) => {
  const before = { mounts: daemonMounts(), fds: stack.daemon.fdCount() };
  const bobsImage = makeExt4(base(), 'bob.ext4', { sizeMiB: 8 });
  fs.chownSync(bobsImage, bob.uid, bob.gid);
  const image = fs.openSync(fuse().image, 'r');
  try {
    await fuse().hang();
    const stuck = await stuckMounts(image, IO_CALLS_PER_UID);
    for (const result of await Promise.all(stuck)) t.like(result, { ok: false, name: `${ERR}Unavailable` });
    const refused = await callWithFd(alice, stack.address, MOUNT, image, 30000);
    t.like(refused, { ok: false, name: `${ERR}QuotaExceeded` });
    t.regex(refused.ok ? '' : refused.message, new RegExp(`${IO_CALLS_PER_UID} of your earlier calls still wait`));
    const bobs = await callAs(bob, stack.address, 'Mount', 'ha{sv}', [{ $fd: bobsImage, mode: 'r' }, { ReadOnly: v('b', true) }], { timeoutMs: 30000 });
    t.true(bobs.ok, `bob's Mount while alice's calls are stuck: ${JSON.stringify(bobs)}`);
  } finally {
    await fuse().release();
    fs.closeSync(image);
    fs.rmSync(path.join(base(), 'bob.ext4'), { force: true });
  }
  await nothingLeft(t, before);
  await mountsAgain(t);
});
