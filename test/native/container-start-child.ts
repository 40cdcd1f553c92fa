// Child of container-setup-death.test.ts: starts a command through
// native/container.c and prints one JSON line with the outcome. It runs
// under a seccomp filter that kills whichever process calls setns, so the
// setup child dies before it reports anything.
import fs from 'node:fs';
import { startContainer, ContainerStartError } from '../../src/native/container';

const userns = fs.openSync('/proc/self/ns/user', 'r');
const root = fs.openSync('/', 'r');
try {
  const pid = startContainer({ userNamespaceFd: userns, rootFd: root, container: false, argv: ['true'], env: {} });
  process.stdout.write(JSON.stringify({ started: pid }) + '\n');
} catch (err) {
  const e = err as ContainerStartError;
  process.stdout.write(JSON.stringify({ failed: e.step, errno: e.errno }) + '\n');
}
