// pool.setgroups decides whether a namespace's owner may call setgroups()
// inside it. With "allow" the owner can drop a supplementary group it has
// on the host and so read a file whose group bits exist to keep that group
// out; with "deny" it cannot. carol is in nsmtest-admins; the file is
// mode 0604, group nsmtest-admins: others may read it, that group may not.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootSkipReason, rootSerial } from '../helpers/root';
import { startTestStack, type TestStack } from '../helpers/stack';
import { callAs } from '../helpers/call';
import { ADMINS_GROUP, carol } from '../helpers/users';

let stack: TestStack;
let secret: string;

test.before(async () => {
  if (rootSkipReason) return;
  stack = await startTestStack({ daemon: false });
  const dir = path.join(stack.baseDir, 'setgroups');
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  secret = path.join(dir, 'not-for-admins');
  fs.writeFileSync(secret, 'others may read this\n');
  fs.chownSync(secret, 0, ADMINS_GROUP.gid);
  fs.chmodSync(secret, 0o604);
});
test.after.always(async () => {
  await stack?.stop();
});

// One process, no exec: entering the namespace gives its owner full
// capabilities there, and an exec as a uid the namespace does not map would
// drop them again. (Debian 12's Python has no os.setns yet.)
const DROP_GROUPS_AND_READ = `import ctypes, os, sys
CLONE_NEWUSER = 0x10000000
libc = ctypes.CDLL(None, use_errno=True)
if libc.setns(int(os.environ["FD0"]), CLONE_NEWUSER) != 0:
    sys.exit("setns: " + os.strerror(ctypes.get_errno()))
print(open("/proc/self/setgroups").read().strip())
try:
    os.setgroups([])
except OSError as e:
    print("setgroups:", e.strerror)
    sys.exit(0)
print(open(sys.argv[1]).read(), end="")`;

const setgroupsCase = test.macro({
  async exec(t, config: string, expected: { proc: string; read: RegExp }) {
    fs.writeFileSync(stack.configPath, config);
    await stack.daemon.restart();
    const then = [`cat ${secret} 2>/dev/null || echo "host: denied"`, `FD0=$FD0 python3 -c '${DROP_GROUPS_AND_READ}' ${secret}`].join('; ');
    const r = await callAs(carol, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['sg', 0, {}], { then });
    t.true(r.ok, r.ok ? '' : `${r.name}: ${r.message}`);
    if (!r.ok) return;
    const [host, proc, read] = r.then!.stdout.split('\n');
    t.is(host, 'host: denied', 'on the host the group keeps carol out');
    t.is(proc, expected.proc);
    t.regex(read, expected.read, r.then!.stderr);
  },
  title: (what) => `setgroups ${what}`,
});

rootSerial('"allow" (the default) lets the owner drop a group and read what the group is kept from', setgroupsCase, '', {
  proc: 'allow',
  read: /^others may read this$/,
});
rootSerial('"deny" keeps the owner in its groups', setgroupsCase, '[pool]\nsetgroups = "deny"\n', {
  proc: 'deny',
  read: /^setgroups: Operation not permitted$/,
});
