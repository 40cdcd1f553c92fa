// What a method checks before polkit never waits for a caller's file
// system. A caller's directory or image on FUSE (or NFS) whose server has
// stopped answering used to stall the daemon already there: fstat asked
// the server for fresh attributes, and resolving the fd's path for polkit's
// details or the image trust check looked the path up through it, on
// Node's only thread. Now those use the kernel's cached attributes
// (AT_STATX_DONT_SYNC) and cached dentries (RESOLVE_CACHED): the call
// reaches polkit (here a rule refuses everything alice asks, so nothing
// after polkit runs) without a single request to the server, and bob's
// Ping is answered meanwhile.
import fs from 'node:fs';
import { rootTest } from '../helpers/root';
import { alice } from '../helpers/users';
import { ERR } from './mount-fixture';
import { callWithFd, delay, pingAsBob, useHangingFuse, type FdCall } from './fuse-fixture';

const { stack, fuse } = useHangingFuse({
  rules: `polkit.addRule(function (action, subject) {
    if (action.id.indexOf("org.nsmount.") == 0 && subject.user == "${alice.name}") return polkit.Result.NO;
  });`,
});

interface Case {
  call: FdCall;
  open: () => number;
}

const cases: Record<string, Case> = {
  'IdmapDirectory of a directory': {
    call: { member: 'IdmapDirectory', signature: 'ha{sv}', body: [{ $fd: 3 }, {}] },
    open: () => fs.openSync(fuse().directory, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY),
  },
  'MakeDirectory in a directory': {
    call: { member: 'MakeDirectory', signature: 'hsa{sv}', body: [{ $fd: 3 }, 'made', {}] },
    open: () => fs.openSync(fuse().directory, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY),
  },
  'Mount of an image': {
    call: { member: 'Mount', signature: 'ha{sv}', body: [{ $fd: 3 }, {}] },
    open: () => fs.openSync(fuse().image, fs.constants.O_RDONLY),
  },
};

for (const [title, { call, open }] of Object.entries(cases)) {
  rootTest.serial(`${title} on a hanging FUSE file system reaches polkit without asking the server, and others are served`, async (t) => {
    const fd = open();
    try {
      await fuse().hang();
      const heldBefore = fuse().held().length;
      const answer = callWithFd(alice, stack.address, call, fd, 20000);
      // Ping while alice's call is in flight (or just answered).
      const ping = await delay(200).then(() => pingAsBob(stack.address));
      const result = await answer;
      t.true(ping.ok, `bob's Ping: ${JSON.stringify(ping)}`);
      t.like(result, { ok: false, name: `${ERR}NotAuthorized` });
      t.deepEqual(fuse().held().slice(heldBefore), [], 'requests the server was asked while it hung');
    } finally {
      await fuse().release();
      fs.closeSync(fd);
    }
  });
}
