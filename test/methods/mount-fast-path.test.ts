// Mount reads an image on Node's thread only when the image cannot wait on
// a server (src/image/off-thread-image.ts). The unsafe mistake would be an
// image that looks local but is not: a file inside an ext4 that sits on a
// loop device whose backing file is on a FUSE server that stops answering
// (test/helpers/hanging-fuse.ts). That image must take the pool path, so
// bob's Ping is answered while alice's Mount waits for the server, and
// the same image is mounted as usual once the server answers again.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice } from '../helpers/users';
import { v } from '../helpers/call';
import { makeExt4, tempDir } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';
import { allowUntrustedImages } from '../helpers/polkit-rules';
import { startHangingFuse, type HangingFuse } from '../helpers/hanging-fuse';
import { callWithFd, pingAsBob, type FdCall } from './fuse-fixture';

const IO_TIMEOUT_SEC = 5;

let base: string;
let fuse: HangingFuse | undefined;
/** The outer ext4, served by the FUSE server, loop-mounted here read-only. */
let outer: string;

test.before(async () => {
  if (rootSkipReason) return;
  base = tempDir('nsmountd-fast-path-');
  fs.chmodSync(base, 0o755);
  const content = path.join(base, 'content');
  fs.mkdirSync(content);
  makeExt4(content, 'inner.ext4', { sizeMiB: 8, files: { 'hello.txt': 'inner\n' } });
  for (const name of fs.readdirSync(content)) {
    if (name !== 'inner.ext4') removeTree(path.join(content, name));
  }
  const backing = path.join(base, 'outer.ext4');
  fs.writeFileSync(backing, '');
  fs.truncateSync(backing, 32 * 1024 * 1024);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, backing], { stdio: ['ignore', 'ignore', 'pipe'] });
  fuse = await startHangingFuse({ dir: base, backing, owner: alice, holdLimitSec: 60 });
  outer = path.join(base, 'outer');
  fs.mkdirSync(outer);
  execFileSync('mount', ['-o', 'loop,ro,norecovery', '-t', 'ext4', fuse.image, outer]);
});
// Before the stack's own hook: a daemon thread waiting on the server could not end otherwise.
test.serial.after.always(async () => {
  if (outer) execFileSync('umount', ['--lazy', outer], { stdio: 'ignore' });
  await fuse?.stop();
});
const stack = useTestStack({
  config: `[daemon]\nio_timeout_sec = ${IO_TIMEOUT_SEC}\n`,
  rules: allowUntrustedImages(alice),
});
test.serial.after.always(() => {
  if (base) removeTree(base);
});

const MOUNT: FdCall = { member: 'Mount', signature: 'ha{sv}', body: [{ $fd: 3 }, { ReadOnly: v('b', true) }] };

/** Drops the cached pages of `file`, so the next read goes to its file system (GNU dd's documented idiom). */
function dropCache(file: string): void {
  execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

rootTest.serial('an image inside a loop mount whose file is on a hanging FUSE server is read off the event loop', async (t) => {
  const inner = path.join(outer, 'inner.ext4');
  const image = fs.openSync(inner, 'r');
  try {
    dropCache(inner);
    dropCache(fuse!.image);
    const since = fuse!.held().length;
    await fuse!.hang();
    const mount = callWithFd(alice, stack.address, MOUNT, image, 60000);
    // The daemon's read of the inner image reaches the server through the loop device.
    await fuse!.waitForHeld({ op: 'read', since, timeoutMs: 20000 });
    const ping = await pingAsBob(stack.address);
    t.true(ping.ok, `bob's Ping while alice's Mount waits for the server behind the loop device: ${JSON.stringify(ping)}`);
    await fuse!.release();
    const result = await mount;
    // Released before or after the time limit: either the image mounted or the call gave up; never a stalled daemon.
    t.true(result.ok || result.name.endsWith('.Unavailable'), JSON.stringify(result));
  } finally {
    await fuse!.release();
    fs.closeSync(image);
  }
  const again = fs.openSync(inner, 'r');
  try {
    const result = await callWithFd(alice, stack.address, MOUNT, again, 30000);
    t.true(result.ok, `the same image once the server answers: ${JSON.stringify(result)}`);
  } finally {
    fs.closeSync(again);
  }
});
