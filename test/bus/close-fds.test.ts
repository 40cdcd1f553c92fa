// Which fds the dispatcher closes on Node's thread and which on libuv's
// pool: only a close that may wait for someone the caller controls leaves
// the fast path (the stall itself: close-fuse-file.test.ts).
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { closeMayWait, closeMessageFds } from '../../src/bus/close-fds';
import { closeQuietly, fdStatusFlags } from '../../src/native/fd';
import { OffThread } from '../../src/native/off-thread';
import { O_PATH } from '../../src/native/flags';
import { openTreeClone } from '../../src/native/mount-api';
import { rootTest } from '../helpers/root';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-close-fds-'));
fs.writeFileSync(path.join(dir, 'file'), 'local');
const server = net.createServer().listen(path.join(dir, 'socket'));
test.after.always(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const cases: Array<[string, () => number, boolean]> = [
  ['a directory', () => fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY), false],
  ['a file on a local file system', () => fs.openSync(path.join(dir, 'file'), 'r'), false],
  ['an O_PATH fd of a file', () => fs.openSync(path.join(dir, 'file'), O_PATH), false],
  ['a user namespace', () => fs.openSync('/proc/self/ns/user', 'r'), false],
  ['a character device (a terminal drains)', () => fs.openSync('/dev/null', 'r'), true],
];

for (const [kind, open, expected] of cases) {
  test(`closing ${kind} ${expected ? 'may wait' : 'never waits'}`, (t) => {
    const fd = open();
    try {
      t.is(closeMayWait(fd), expected);
    } finally {
      closeQuietly(fd);
    }
  });
}

test('closing a socket may wait (SO_LINGER)', async (t) => {
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  // The server's own fd; it is not closed here.
  t.true(closeMayWait((server as unknown as { _handle: { fd: number } })._handle.fd));
});

// Its last fd takes the mount down with it, which on a read-write file
// system writes back (unmount-fuse.test.ts has one on a hanging server).
rootTest('closing a directory of a detached mount may wait', (t) => {
  const dirFd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  let mountFd: number | undefined;
  try {
    mountFd = openTreeClone(dirFd, { recursive: false });
    t.true(closeMayWait(mountFd));
  } finally {
    closeQuietly(mountFd);
    closeQuietly(dirFd);
  }
});

function isOpen(fd: number): boolean {
  try {
    fdStatusFlags(fd);
    return true;
  } catch {
    return false;
  }
}

// A method that already found out (Mount, for its image: mount.ts) tells
// the dispatcher, which then does not look again: its answer decides.
const knownCases: Array<[string, () => number, boolean]> = [
  ['a character device said never to wait is closed at once', () => fs.openSync('/dev/null', 'r'), false],
  ['a local file said to wait goes to the pool', () => fs.openSync(path.join(dir, 'file'), 'r'), true],
];

for (const [title, open, mayWait] of knownCases) {
  test(title, async (t) => {
    const fd = open();
    t.not(closeMayWait(fd), mayWait, 'the case must differ from what close-fds would find itself');
    let uidAsked = false;
    const offThread = new OffThread({ perUid: 1, timeoutMs: 10000 });
    closeMessageFds([fd], {
      offThread,
      uid: async () => {
        uidAsked = true;
        return 0;
      },
      onError: (err) => t.fail(String(err)),
      known: new Map([[fd, mayWait]]),
    });
    // Only a close on the pool asks whom to charge.
    t.is(uidAsked, mayWait);
    if (!mayWait) {
      t.false(isOpen(fd), 'closed before closeMessageFds returned');
      return;
    }
    // Closed on the pool, a moment later.
    while (isOpen(fd)) await new Promise((resolve) => setImmediate(resolve));
    t.false(isOpen(fd));
  });
}
