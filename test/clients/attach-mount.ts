// Attaches a detached mount fd at a directory with move_mount(2), for
// tests that receive an IdmapDirectory mount and attach it themselves,
// e.g. inside their own user and mount namespace. util-linux 2.38's mount
// cannot take an fd.
//   node dist/test/clients/attach-mount.js MOUNT_FD TARGET_DIR
import fs from 'node:fs';
import { moveMountTo } from '../../src/native/mount-api';
import { O_DIRECTORY, O_PATH } from '../../src/native/dirfd';

const [mountFd, target] = process.argv.slice(2);
if (!mountFd || !target) {
  process.stderr.write('usage: attach-mount MOUNT_FD TARGET_DIR\n');
  process.exit(2);
}
const targetFd = fs.openSync(target, O_PATH | O_DIRECTORY);
try {
  moveMountTo(Number(mountFd), targetFd);
} catch (err) {
  process.stderr.write(`attach-mount: ${(err as Error).message}\n`);
  process.exit(1);
}
