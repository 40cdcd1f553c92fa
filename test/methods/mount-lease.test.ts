// A caller holding a write lease (F_SETLEASE) on its image used to stall
// the daemon: Mount reopened the image with a blocking open on Node's only
// thread, which waited out the 45 s lease-break time, and every other
// caller waited with it. The lease holder here learns (SIGIO) when the
// daemon's open reached the lease, then has bob ping the daemon while it
// still holds the lease: Ping must be answered, and the Mount refused at
// once rather than run once the lease is gone.
import test from 'ava';
import fs from 'node:fs';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { runAsUser } from '../helpers/as-user';
import { CALL_CLIENT } from '../helpers/paths';
import { alice, bob, type TestUser } from '../helpers/users';
import { makeExt4 } from '../helpers/images';
import { makeImageDirs, place, ERR, type ImageDirs } from './mount-fixture';
import { removeTree } from '../helpers/cleanup';
import { allowUntrustedImages } from '../helpers/polkit-rules';

let dirs: ImageDirs;
let image: string;

test.before(async () => {
  if (rootSkipReason) return;
  dirs = makeImageDirs();
  image = place(makeExt4(dirs.base, 'leased.ext4', { sizeMiB: 8 }), dirs.untrusted, alice);
});
const stack = useTestStack(() => ({
  config: dirs.config,
  rules: allowUntrustedImages(alice),
}));
test.after.always(async () => {
  if (dirs) removeTree(dirs.base);
});

const setpriv = (u: TestUser) => ['setpriv', '--reuid', String(u.uid), '--regid', String(u.gid), '--clear-groups', '--'];

// Runs as root (CAP_LEASE): takes the lease, has alice call Mount with the
// leased fd, waits for the lease break, then has bob ping while the lease
// is still held. Prints one JSON line.
const LEASE_HOLDER = String.raw`
import fcntl, json, os, signal, subprocess, sys
a = json.loads(sys.argv[1])
F_SETLEASE = 1024
# Blocked, so the lease-break signal waits for sigtimedwait below.
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGIO])
fd = os.open(a["image"], os.O_RDONLY)
fcntl.fcntl(fd, F_SETLEASE, fcntl.F_WRLCK)
def client(user, *args):
    return subprocess.Popen(user + [a["node"], a["client"], "--address", a["address"], *args],
                            pass_fds=(fd,), stdout=subprocess.PIPE, text=True)
mount = client(a["alice"], "--member", "Mount", "--signature", "ha{sv}", "--body", json.dumps([{"$fd": fd}, {}]), "--timeout-ms", "90000")
broken = signal.sigtimedwait([signal.SIGIO], 60) is not None
ping = client(a["bob"], "--interface", "org.freedesktop.DBus.Peer", "--member", "Ping", "--signature", "", "--body", "[]", "--timeout-ms", "90000")
ping_out = ping.communicate()[0]
fcntl.fcntl(fd, F_SETLEASE, fcntl.F_UNLCK)
mount_out = mount.communicate()[0]
print(json.dumps({"leaseBroken": broken,
                  "ping": json.loads(ping_out.strip().splitlines()[-1]), "mount": json.loads(mount_out.strip().splitlines()[-1])}))
`;

rootTest("a caller's lease on its image does not stall the daemon for others", async (t) => {
  const args = { image, node: process.execPath, client: CALL_CLIENT, address: stack.address, alice: setpriv(alice), bob: setpriv(bob) };
  const result = await runAsUser('root', ['/usr/bin/python3', '-c', LEASE_HOLDER, JSON.stringify(args)], { timeoutMs: 180000 });
  const out = JSON.parse(result.stdout.trim().split('\n').pop() ?? 'null') as {
    leaseBroken: boolean;
    ping: { ok: boolean };
    mount: { ok: boolean; name?: string; message?: string };
  };
  t.true(out.leaseBroken, `the daemon opened the leased file: ${JSON.stringify(out)}`);
  t.true(out.ping.ok, JSON.stringify(out.ping));
  t.like(out.mount, { ok: false, name: `${ERR}BadFileDescriptor` });
  t.regex(out.mount.message ?? '', /^image: .*lease/);
  t.true(fs.existsSync(image));
});
