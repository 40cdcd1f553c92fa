// The dispatcher closes every fd a message brought, and close(2) of a
// regular file on FUSE waits for the server to answer FLUSH. A caller
// whose server stops answering used to stall the daemon right there, on
// Node's only thread, after its own call was answered. Now such a close
// runs on libuv's pool (src/bus/close-fds.ts) and others are served.
//
// dbus-daemon closes its copy of a passed fd too, right after passing it
// on, and would wait just the same; so the server starts holding closes
// only once the call is with nsmountd: polkit takes its time on alice's
// call (a rule busy for POLKIT_DELAY_MS), and the test holds closes meanwhile.
// POLKIT_DELAY_MS only needs to outlast the few ms between the fd's arrival
// and the hold.
import { rootTest } from '../helpers/root';
import { alice } from '../helpers/users';
import { ERR } from '../methods/mount-fixture';
import { callAs } from '../helpers/call';
import { delay, pingAsBob, useHangingFuse } from '../methods/fuse-fixture';

const POLKIT_DELAY_MS = 2500;

const { stack, fuse } = useHangingFuse({
  rules: `polkit.addRule(function (action, subject) {
    if (action.id.indexOf("org.nsmount.mount-image") == 0 && subject.user == "${alice.name}") {
      var until = Date.now() + ${POLKIT_DELAY_MS};
      while (Date.now() < until) {}
      return polkit.Result.NO;
    }
  });`,
});

rootTest.serial("closing a caller's file on a FUSE file system whose server holds FLUSH stalls nothing, and the fd is closed once it answers", async (t) => {
  const fdsBefore = stack.daemon.fdCount();
  let released = false;
  try {
    // The client opens the file itself: an fd of the test's would be closed,
    // and flushed, by every process the test starts when it execs.
    const answer = callAs(alice, stack.address, 'Mount', 'ha{sv}', [{ $fd: fuse().image, mode: 'r' }, {}], { timeoutMs: 30000 });
    // Hold closes only once the fd is with nsmountd (its fd count rises while
    // polkit is busy): starting a client may take seconds on a loaded machine.
    // dbus-daemon closes its copy right after passing it on; give it a moment.
    for (let i = 0; i < 400 && stack.daemon.fdCount() <= fdsBefore; i++) await delay(25);
    t.true(stack.daemon.fdCount() > fdsBefore, "alice's call reached nsmountd");
    await delay(200);
    await fuse().hang({ closes: true });
    const held = await fuse().waitForHeld({ op: 'flush', timeoutMs: 20000 });
    t.regex(held, /^held flush \/image\.img/);
    const ping = await pingAsBob(stack.address);
    t.true(ping.ok, `bob's Ping while nsmountd's close waits for the server: ${JSON.stringify(ping)}`);
    await fuse().release();
    released = true;
    // alice's client closes its fd on exit, which waited for the server too.
    t.like(await answer, { ok: false, name: `${ERR}NotAuthorized` });
    // The close was not lost, only moved: the daemon's fd goes once the server answers.
    for (let i = 0; i < 100 && stack.daemon.fdCount() > fdsBefore; i++) await delay(50);
    t.is(stack.daemon.fdCount(), fdsBefore, "the daemon's fds");
  } finally {
    if (!released) await fuse().release();
  }
});
