// Which images Mount reads on Node's thread (src/image/image-fd.ts): only
// files on a local disk or memory file system that is not on a loop
// device. A block device may always wait (a loop device's file, an nbd
// server), whatever its node lives on; test/methods/mount-fast-path.test.ts
// covers a file inside a loop mount whose file is on a hanging FUSE server.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { makeExt4, tempDir } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';
import { imageMayWaitForServer, inspectImageFd } from '../../src/image/image-fd';
import { closeMayWait } from '../../src/bus/close-fds';

/** Also checks that Mount's answer is the dispatcher's for closing the image (mount.ts knownCloses). */
function mayWait(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const answer = imageMayWaitForServer(fd, inspectImageFd(fd));
    if (answer !== closeMayWait(fd)) throw new Error(`${file}: reading may wait ${answer}, closing ${!answer}`);
    return answer;
  } finally {
    fs.closeSync(fd);
  }
}

rootTest('a file on a fresh tmpfs is read on Node\'s thread', (t) => {
  const dir = tempDir('nsmountd-may-wait-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', 'nsmtest', dir]);
    try {
      t.false(mayWait(makeExt4(dir, 'local.ext4', { sizeMiB: 8 })));
    } finally {
      execFileSync('umount', [dir]);
    }
  } finally {
    removeTree(dir);
  }
});

rootTest('a loop device, and a file on a file system mounted from one, may wait', (t) => {
  const dir = tempDir('nsmountd-may-wait-');
  const mountpoint = path.join(dir, 'outer');
  fs.mkdirSync(mountpoint);
  const image = makeExt4(dir, 'outer.ext4', { sizeMiB: 8, files: { 'inside.txt': 'x\n' } });
  const device = execFileSync('losetup', ['--find', '--show', '--read-only', image], { encoding: 'utf8' }).trim();
  try {
    t.true(mayWait(device), device);
    execFileSync('mount', ['-o', 'ro,norecovery', '-t', 'ext4', device, mountpoint]);
    try {
      t.true(mayWait(path.join(mountpoint, 'inside.txt')));
    } finally {
      execFileSync('umount', [mountpoint]);
    }
  } finally {
    execFileSync('losetup', ['-d', device]);
    removeTree(dir);
  }
});
