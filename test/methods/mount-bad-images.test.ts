// Mount with images and fds that must be refused: each gets an error that
// says what is wrong, and nothing (loop device, mount, daemon fd) is left.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { v, type CallResult } from '../helpers/call';
import { runAsUser } from '../helpers/as-user';
import { CALL_CLIENT } from '../helpers/paths';
import { alice } from '../helpers/users';
import {
  GPT_ENTRY,
  GPT_HEADER,
  MiB,
  TYPE_HOME,
  TYPE_ROOT_X86_64,
  editGpt,
  makeExt4,
  makeGpt,
  makeSquashfs,
  waitForNoLoopDevicesUnder,
} from '../helpers/images';
import { expectError, fdArg, makeImageDirs, mountAs, type ImageDirs } from './mount-fixture';

let dirs: ImageDirs;
let dir: string;
let rootFs: string;
let homeFs: string;
let daemonFds: number;

test.before(async () => {
  if (rootSkipReason) return;
  dirs = makeImageDirs();
  dir = dirs.untrusted;
  rootFs = makeExt4(dirs.base, 'root.ext4', { sizeMiB: 8 });
  homeFs = makeExt4(dirs.base, 'home.ext4', { sizeMiB: 8 });
});
const stack = useTestStack(() => ({ config: dirs.config }));
test.before(async () => {
  if (rootSkipReason) return;
  daemonFds = stack.daemon.fdCount();
});
test.after.always(async () => {
  if (dirs) fs.rmSync(dirs.base, { recursive: true, force: true });
});

function gptRootHome(name: string): string {
  return makeGpt(dir, name, [
    { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs },
    { type: TYPE_HOME, sizeMiB: 8, content: homeFs },
  ]).image;
}

/** Runs the call client with a pipe or socket as its fd 3, passed as the image. */
async function mountSpecialFd(kind: 'pipe' | 'socket'): Promise<CallResult> {
  const script = [
    'import os, socket, sys',
    kind === 'pipe' ? 'r, w = os.pipe()' : 'r = socket.socketpair()[0].detach()',
    // dup2 onto itself (r may already be 3) keeps it close-on-exec.
    'os.dup2(r, 3)',
    'os.set_inheritable(3, True)',
    'os.execv(sys.argv[1], sys.argv[1:])',
  ].join('\n');
  const result = await runAsUser('root', [
    '/usr/bin/python3', '-c', script, process.execPath, CALL_CLIENT,
    '--address', stack.address, '--member', 'Mount', '--signature', 'ha{sv}', '--body', JSON.stringify([{ $fd: 3 }, {}]),
  ]);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as CallResult;
}

interface BadCase {
  /** Returns the image path; or a special fd kind the client cannot open by path. */
  image: () => string | { special: 'pipe' | 'socket' };
  mode?: string;
  options?: Record<string, unknown>;
  error: string;
  message: RegExp;
}

const refused = test.macro({
  async exec(t, c: BadCase) {
    const image = c.image();
    const r = typeof image === 'string'
      ? await mountAs('root', stack.address, fdArg(image, c.mode ?? 'rw'), c.options ?? {})
      : await mountSpecialFd(image.special);
    expectError(t, r, c.error, c.message);
    t.deepEqual(await waitForNoLoopDevicesUnder(dirs.base), [], 'a loop device outlived the failed call');
  },
  title: (title) => `refused: ${title}`,
});

const file = (name: string, content: Buffer | string) => () => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
};

rootSerial('an empty file', refused, { image: file('empty.img', ''), error: 'BadImage', message: /empty/ });
rootSerial('random bytes', refused, {
  image: file('random.img', Buffer.from(Buffer.alloc(4 * MiB).map((_, i) => (i * 2654435761) >>> 24))),
  error: 'BadImage',
  message: /no filesystem or partition table/,
});
// The superblock is intact, so dissection passes and the kernel refuses:
// the loop device made for it must go again.
rootSerial('a truncated ext4', refused, {
  image: () => {
    const image = makeExt4(dir, 'truncated.ext4', { sizeMiB: 16 });
    fs.truncateSync(image, 4 * MiB);
    return image;
  },
  options: { ReadOnly: v('b', false) },
  error: 'BadImage',
  message: /ext4 cannot mount/,
});
rootSerial('overlapping GPT entries', refused, {
  image: () => {
    const image = gptRootHome('overlap.gpt');
    editGpt(image, { entries: [{ index: 1, offset: GPT_ENTRY.startLba, value: 2048n + 512n }] });
    return image;
  },
  error: 'BadImage',
  message: /partitions 1 and 2 overlap/,
});
rootSerial('a GPT entry past the end of the image', refused, {
  image: () => {
    const image = gptRootHome('past.gpt');
    editGpt(image, { entries: [{ index: 1, offset: GPT_ENTRY.endLba, value: 1n << 40n }] });
    return image;
  },
  options: { Partitions: v('as', ['home']) },
  error: 'NoMountablePartition',
  message: /no home partition/,
});
rootSerial('a GPT with an absurd entry count', refused, {
  image: () => {
    const image = gptRootHome('count.gpt');
    editGpt(image, { header: [{ offset: GPT_HEADER.entryCount, value: 0xffffffn, bytes: 4 }], alsoBackup: true });
    return image;
  },
  error: 'BadImage',
  message: /both GPT headers are invalid/,
});
rootSerial('a GPT with an absurd entry size', refused, {
  image: () => {
    const image = gptRootHome('size.gpt');
    editGpt(image, { header: [{ offset: GPT_HEADER.entrySize, value: 1n << 20n, bytes: 4 }], alsoBackup: true });
    return image;
  },
  error: 'BadImage',
  message: /both GPT headers are invalid/,
});
rootSerial('a swap area', refused, {
  image: () => {
    const p = file('swap.img', Buffer.alloc(MiB))();
    execFileSync('mkswap', ['-q', p]);
    return p;
  },
  error: 'UnsupportedFileSystem',
  message: /holds swap/,
});
// The second partition's options fail after the first is mounted: that mount must go.
rootSerial('a MountOptions key one of the partitions does not allow', refused, {
  image: () =>
    makeGpt(dir, 'mixed.gpt', [
      { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs },
      { type: TYPE_HOME, sizeMiB: 8, content: makeSquashfs(dirs.base, 'home.squashfs', { files: { a: 'b' } }) },
    ]).image,
  options: { MountOptions: v('s', 'commit=5') },
  error: 'InvalidArgument',
  message: /^options\.MountOptions: "commit" is not allowed for squashfs/,
});
rootSerial('a directory fd', refused, { image: () => dir, mode: 'dir', error: 'BadFileDescriptor', message: /^image: .*got a directory/ });
rootSerial('an O_PATH fd', refused, { image: () => rootFs, mode: 'path', error: 'BadFileDescriptor', message: /^image: an O_PATH fd/ });
rootSerial('a write-only fd', refused, { image: () => rootFs, mode: 'w', error: 'BadFileDescriptor', message: /^image: .*write-only/ });
rootSerial('a character device', refused, { image: () => '/dev/null', error: 'BadFileDescriptor', message: /^image: .*character device/ });
rootSerial('a pipe', refused, { image: () => ({ special: 'pipe' }), error: 'BadFileDescriptor', message: /^image: .*got a pipe/ });
rootSerial('a socket', refused, { image: () => ({ special: 'socket' }), error: 'BadFileDescriptor', message: /^image: .*got a socket/ });

rootSerial('an unauthorized caller learns nothing of what her image holds, and gets no mount', async (t) => {
  // Untrusted bytes are not parsed before polkit agreed: garbage and a good image get the same answer.
  const image = file('alice-random.img', Buffer.alloc(MiB, 7))();
  fs.chownSync(image, alice.uid, alice.gid);
  expectError(t, await mountAs(alice, stack.address, fdArg(image, 'r')), 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired');
  fs.copyFileSync(rootFs, path.join(dir, 'alice.ext4'));
  expectError(t, await mountAs(alice, stack.address, fdArg(path.join(dir, 'alice.ext4'), 'r')), 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired');
  t.deepEqual(await waitForNoLoopDevicesUnder(dirs.base), []);
});

rootSerial('no daemon fd survives the refusals', (t) => {
  t.is(stack.daemon.fdCount(), daemonFds);
});
