// MakeDirectory in a directory of a FUSE file system whose server stops
// answering. Every step of it (mkdirat, openat, fchown, renameat2...) asks
// the server, and used to wait for it on Node's only thread: every other
// caller stalled. Now a parent on such a file system is worked in on
// libuv's pool: bob's Ping is answered meanwhile, alice's call ends after
// [daemon] io_timeout_sec with Unavailable and leaves no fd open, and once
// the server answers the same call reaches it (this one is read-only).
import fs from 'node:fs';
import { rootTest } from '../helpers/root';
import { alice } from '../helpers/users';
import { ERR } from './mount-fixture';
import { callWithFd, delay, pingAsBob, useHangingFuse, type FdCall } from './fuse-fixture';

const { stack, fuse } = useHangingFuse({ config: '[daemon]\nio_timeout_sec = 2\n' });

const MAKE: FdCall = { member: 'MakeDirectory', signature: 'hsa{sv}', body: [{ $fd: 3 }, 'made', {}] };

rootTest.serial('MakeDirectory in a directory on a hanging FUSE file system stalls nothing, times out with Unavailable and leaves nothing', async (t) => {
  const fd = fs.openSync(fuse().directory, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const fdsBefore = stack.daemon.fdCount();
  let released = false;
  try {
    await fuse().hang();
    const answer = callWithFd(alice, stack.address, MAKE, fd, 30000);
    await fuse().waitForHeld({ timeoutMs: 20000 });
    const ping = await pingAsBob(stack.address);
    t.true(ping.ok, `bob's Ping while alice's MakeDirectory waits for the server: ${JSON.stringify(ping)}`);
    const result = await answer;
    t.like(result, { ok: false, name: `${ERR}Unavailable` });
    await fuse().release();
    released = true;
    for (let i = 0; i < 100 && stack.daemon.fdCount() > fdsBefore; i++) await delay(50);
    t.is(stack.daemon.fdCount(), fdsBefore, "the daemon's fds");
    // The server answers again: the call gets the file system's own answer.
    const again = await callWithFd(alice, stack.address, MAKE, fd, 30000);
    t.like(again, { ok: false, name: `${ERR}System` });
    if (!again.ok) t.regex(again.message, /read-only/);
  } finally {
    if (!released) await fuse().release();
    fs.closeSync(fd);
  }
});
