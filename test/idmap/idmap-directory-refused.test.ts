// What idmapDirectory refuses (unsupported filesystems, someone else's
// directory, bad modes, fds that are not directories), and that a refusal
// leaks no fd.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootTest } from '../helpers/root';
import { BadFileDescriptor, InvalidArgument, NotOwner, NotSupported } from '../../src/errors';
import { closeQuietly } from '../../src/native/fd';
import { idmapDirectory, type IdmapDirectoryRequest, type IdmapMode } from '../../src/idmap/idmap-directory';
import { fdCount, OTHER, openPath } from './fixture';
import { mountAt, request, scratch, type Scratch, useIdmapTree } from './idmap-directory-fixture';

useIdmapTree();

rootTest('a filesystem without idmapped mounts is NotSupported, not a bare errno', (t) => {
  const procFd = openPath('/proc');
  t.teardown(() => closeQuietly(procFd));
  const fdsBefore = fs.readdirSync('/proc/self/fd').length;
  t.throws(() => idmapDirectory({ ...request({ source: '/proc', target: '', sourceFd: procFd }, {}), mode: 'owner' }), {
    instanceOf: NotSupported,
    message: /does not support idmapped mounts/,
  });
  t.is(fs.readdirSync('/proc/self/fd').length, fdsBefore, 'the clone and the idmap namespace were closed');
});

rootTest('an already idmapped mount cannot be idmapped again: NotSupported', (t) => {
  const s = scratch(t, OTHER);
  mountAt(t, s, { mode: 'owner' });
  const idmappedFd = openPath(s.target);
  t.teardown(() => closeQuietly(idmappedFd));
  t.throws(() => idmapDirectory({ ...request(s, {}), directoryFd: idmappedFd, mode: 'owner' }), {
    instanceOf: NotSupported,
    message: /already|idmapped mount/,
  });
});

const refused = test.macro({
  exec(t, setup: (s: Scratch, keep: (fd: number) => number) => Partial<IdmapDirectoryRequest>, expected: { instanceOf: new (...a: never[]) => Error; message: RegExp }) {
    const s = scratch(t, OTHER);
    const overrides = setup(s, (fd) => {
      t.teardown(() => closeQuietly(fd));
      return fd;
    });
    const before = fdCount();
    const error = t.throws(() => idmapDirectory(request(s, overrides)));
    t.true(error instanceof expected.instanceOf, `${error?.name}: ${error?.message}`);
    t.regex(error?.message ?? '', expected.message);
    t.is(fdCount(), before, 'no fd leaked');
  },
  title: (title = '') => `refused: ${title}`,
});
rootTest('auto on a directory of someone else', refused, () => ({ mode: 'auto' as IdmapMode }), {
  instanceOf: NotOwner,
  message: /neither the caller nor in the foreign range/,
});
rootTest('foreign without a namespace', refused, () => ({ mode: 'foreign' as IdmapMode }), {
  instanceOf: InvalidArgument,
  message: /needs a target user namespace/,
});
rootTest('an unknown mode', refused, () => ({ mode: 'bogus' as IdmapMode }), {
  instanceOf: InvalidArgument,
  message: /^mode: must be one of/,
});
const badDirectoryFd = test.macro({
  exec(t, make: (dir: string) => number, got: string) {
    const s = scratch(t, OTHER);
    const fd = make(s.source);
    t.teardown(() => closeQuietly(fd));
    const before = fdCount();
    t.throws(() => idmapDirectory(request(s, { directoryFd: fd, mode: 'identity' })), {
      instanceOf: BadFileDescriptor,
      message: `directory: ${got}`,
    });
    t.is(fdCount(), before);
  },
  title: (_ = '', _make: unknown, got: string) => `directory fd: ${got}`,
});
rootTest(badDirectoryFd, (dir) => {
  fs.writeFileSync(path.join(dir, 'f'), '');
  return fs.openSync(path.join(dir, 'f'), 'r');
}, 'expected a directory, got a regular file');
rootTest(badDirectoryFd, (dir) => {
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  return openPath(path.join(dir, 'fifo'));
}, 'expected a directory, got a pipe');
rootTest(badDirectoryFd, (dir) => {
  const server = net.createServer().listen(path.join(dir, 'sock'));
  const fd = openPath(path.join(dir, 'sock'));
  server.close();
  return fd;
}, 'expected a directory, got a socket');
rootTest(badDirectoryFd, () => fs.openSync('/dev/null', 'r'), 'expected a directory, got a character device');
rootTest(badDirectoryFd, () => {
  const fd = fs.openSync('/dev/null', 'r');
  fs.closeSync(fd);
  return 100_000;
}, 'not an open file descriptor');
