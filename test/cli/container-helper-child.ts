// Child of container-helper-death.test.ts: starts a command through the
// helper (native/helper/nsmount-run.c) and prints one JSON line with the
// outcome. It runs under a seccomp filter that kills whichever process
// calls setns, so the helper dies before it reports anything.
import fs from 'node:fs';
import { runToCompletion } from '../../src/cli/container';

const userns = fs.openSync('/proc/self/ns/user', 'r');
const root = fs.openSync('/', 'r');
runToCompletion({ userNamespaceFd: userns, rootFd: root, container: false, argv: ['true'], env: {} }, () => {
  fs.closeSync(userns);
  fs.closeSync(root);
}).then(
  (code) => process.stdout.write(JSON.stringify({ started: code }) + '\n'),
  (err: Error & { exitCode?: number }) => process.stdout.write(JSON.stringify({ failed: err.message, exitCode: err.exitCode }) + '\n'),
);
