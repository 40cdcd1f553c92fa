// IdmapDirectory of a foreign-owned directory on a FUSE file system whose
// server stops answering. Whether the caller may have it without an
// administrator depends on who owns the directories above it, found by
// walking ".." by fd; with default_permissions the kernel asks the server
// for each directory's attributes on the way (GETATTR), and that walk used
// to wait for it on Node's only thread: every other caller stalled. What
// must hold: bob's Ping is answered meanwhile; alice's call ends after
// [daemon] io_timeout_sec with Unavailable and leaves no fd open and no
// pool thread of hers taken (io_calls_per_uid is 1 here, so one left taken
// would fail the next call); once the server answers, the same call
// succeeds as trusted, since alice owns the directory above, and bob's is
// untrusted (alice's directory is in between), so polkit asks for an administrator.
import fs from 'node:fs';
import { rootTest } from '../helpers/root';
import { v } from '../helpers/call';
import { alice, bob } from '../helpers/users';
import { ERR } from './mount-fixture';
import { callWithFd, delay, pingAsBob, useHangingFuse, type FdCall } from './fuse-fixture';

const { stack, fuse } = useHangingFuse({ config: '[daemon]\nio_timeout_sec = 2\nio_calls_per_uid = 1\n' }, { defaultPermissions: true });

const IDMAP: FdCall = { member: 'IdmapDirectory', signature: 'ha{sv}', body: [{ $fd: 3 }, { Mode: v('s', 'identity') }] };

rootTest.serial("IdmapDirectory's ancestor walk on a hanging FUSE file system stalls nothing, times out with Unavailable and leaves nothing", async (t) => {
  const fd = fs.openSync(fuse().foreignDirectory, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const fdsBefore = stack.daemon.fdCount();
  let released = false;
  try {
    await fuse().hang();
    const answer = callWithFd(alice, stack.address, IDMAP, fd, 30000);
    await fuse().waitForHeld({ timeoutMs: 20000 });
    const ping = await pingAsBob(stack.address);
    t.true(ping.ok, `bob's Ping while alice's IdmapDirectory waits for the server: ${JSON.stringify(ping)}`);
    const result = await answer;
    t.like(result, { ok: false, name: `${ERR}Unavailable` });
    if (!result.ok) t.regex(result.message, /did not answer within 2 s/);
    await fuse().release();
    released = true;
    for (let i = 0; i < 100 && stack.daemon.fdCount() > fdsBefore; i++) await delay(50);
    t.is(stack.daemon.fdCount(), fdsBefore, "the daemon's fds");
    // Trusted (polkit's org.nsmount.idmap-directory, allowed to anyone),
    // not refused as untrusted: alice owns dir/, one level up.
    const again = await callWithFd(alice, stack.address, IDMAP, fd, 30000);
    t.like(again, { ok: true });
    const bobs = await callWithFd(bob, stack.address, IDMAP, fd, 30000);
    t.like(bobs, { ok: false, name: 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired' });
    if (!bobs.ok) t.regex(bobs.message, /idmap-directory-untrusted/);
  } finally {
    if (!released) await fuse().release();
    fs.closeSync(fd);
  }
});
