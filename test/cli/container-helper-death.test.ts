// If the helper dies before it reports (here a seccomp filter kills it at
// its setns), the start fails with a sentence that says so, and nobody
// else is signalled. (Its predecessor, a CLONE_VM child of Node, once went
// on to kill(-1, SIGKILL) here and took every process of the calling user
// with it.) The test runs in a pid namespace of its own, so even a
// regression kills only its own processes.
import test from 'ava';
import path from 'node:path';
import { runAsUser } from '../helpers/as-user';
import { rootTest } from '../helpers/root';
import { alice } from '../helpers/users';

const CHILD = path.join(__dirname, 'container-helper-child.js');

// Kills the process that calls setns (x86_64 and aarch64), allows the rest.
const SECCOMP_EXEC = String.raw`
import ctypes, os, platform, struct, sys
arch, nr = {"x86_64": (0xC000003E, 308), "aarch64": (0xC00000B7, 268)}[platform.machine()]
LD, JEQ, RET = 0x20, 0x15, 0x06
ALLOW, KILL_PROCESS = 0x7FFF0000, 0x80000000
prog = [(LD, 0, 0, 4), (JEQ, 1, 0, arch), (RET, 0, 0, ALLOW),
        (LD, 0, 0, 0), (JEQ, 0, 1, nr), (RET, 0, 0, KILL_PROCESS), (RET, 0, 0, ALLOW)]
buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
fprog = struct.pack("HxxxxxxP", len(prog), ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
fprog_buf = ctypes.create_string_buffer(fprog)
if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, fprog_buf, 0, 0) != 0:
    sys.exit("seccomp: " + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
`;

const SCRIPT = `
sleep 600 & sentinel=$!
/usr/bin/python3 -c "$SECCOMP_EXEC" "$NODE" "$CHILD"
if kill -0 "$sentinel" 2>/dev/null; then echo sentinel-alive; kill "$sentinel"; else echo sentinel-dead; fi
`;

rootTest('a helper dying before it reports fails the start in words and signals nobody', async (t) => {
  const result = await runAsUser(
    'root',
    [
      'unshare', '--pid', '--fork', '--kill-child', '--',
      'setpriv', '--reuid', String(alice.uid), '--regid', String(alice.gid), '--clear-groups', '--',
      'sh', '-c', SCRIPT,
    ],
    { env: { SECCOMP_EXEC, NODE: process.execPath, CHILD } },
  );
  const lines = result.stdout.trim().split('\n');
  t.is(lines.pop(), 'sentinel-alive', result.stdout + result.stderr);
  t.deepEqual(
    JSON.parse(lines.pop() ?? 'null'),
    { failed: 'cannot start the command: the helper was killed by SIGSYS before the command started', exitCode: 125 },
    result.stdout + result.stderr,
  );
});
