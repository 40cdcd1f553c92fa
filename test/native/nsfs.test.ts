import test, { ExecutionContext } from 'ava';
import { rootSerial } from '../helpers/root';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  decodeHandle,
  encodeHandle,
  isNamespaceFd,
  namespaceAlive,
  namespaceFileHandle,
  namespaceFileHandlesSupported,
  namespaceId,
  namespaceOwnerUid,
  namespaceType,
  NamespaceType,
  openNamespaceByHandle,
} from '../../src/native/nsfs';
import { createUserNamespace } from '../../src/native/userns';
import { InvalidArgument, SystemError } from '../../src/errors';

// Making a namespace for another owner and open_by_handle_at
// (CAP_DAC_READ_SEARCH) need root.
const rootTest = rootSerial;

function withFile<T>(path: string, use: (fd: number) => T): T {
  const fd = fs.openSync(path, 'r');
  try {
    return use(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function newUserNamespace(): number {
  const map = [{ inside: 0, outside: 524288, count: 65536 }];
  return createUserNamespace({ ownerUid: 61001, ownerGid: 61001, uidMap: map, gidMap: map });
}

const typeOf = test.macro({
  exec(t: ExecutionContext, name: string, expected: NamespaceType) {
    withFile(`/proc/self/ns/${name}`, (fd) => {
      t.true(isNamespaceFd(fd));
      t.is(namespaceType(fd), expected);
    });
  },
  title: (_provided, name, expected) => `namespaceType of /proc/self/ns/${name} is ${expected}`,
});

test(typeOf, 'net', 'net');
test(typeOf, 'mnt', 'mnt');
test(typeOf, 'user', 'user');
test(typeOf, 'pid', 'pid');
test(typeOf, 'ipc', 'ipc');
test(typeOf, 'uts', 'uts');
test(typeOf, 'cgroup', 'cgroup');
test(typeOf, 'time', 'time');

test('a regular file is not a namespace fd and has no namespace type', (t) => {
  withFile('/etc/passwd', (fd) => {
    t.false(isNamespaceFd(fd));
    const error = t.throws(() => namespaceType(fd), { instanceOf: SystemError });
    t.is(error?.code, 'ENOTTY');
    t.throws(() => namespaceId(fd), { instanceOf: SystemError });
  });
});

test('namespaceOwnerUid refuses a namespace that is not a user namespace', (t) => {
  withFile('/proc/self/ns/net', (fd) => {
    const error = t.throws(() => namespaceOwnerUid(fd), { instanceOf: SystemError });
    t.is(error?.code, 'EINVAL');
  });
});

test('namespaceId is stable per namespace and differs between namespaces', (t) => {
  const user = withFile('/proc/self/ns/user', namespaceId);
  t.is(typeof user, 'bigint');
  t.is(withFile('/proc/self/ns/user', namespaceId), user);
  t.not(withFile('/proc/self/ns/net', namespaceId), user);
});

test('handles survive encodeHandle/decodeHandle', (t) => {
  withFile('/proc/self/ns/user', (fd) => {
    const handle = namespaceFileHandle(fd);
    const text = encodeHandle(handle);
    t.regex(text, /^[0-9a-f]+$/);
    t.deepEqual(decodeHandle(text), handle);
  });
});

const badEncoding = test.macro({
  exec(t: ExecutionContext, text: string) {
    t.throws(() => decodeHandle(text), { instanceOf: InvalidArgument });
  },
  title: (_provided, text: string) => `decodeHandle rejects ${text.length > 24 ? `${text.length} hex digits` : JSON.stringify(text)}`,
});
test(badEncoding, '');
test(badEncoding, '000000f1');
test(badEncoding, '000000f1abc');
test(badEncoding, '000000f1zz');
test(badEncoding, '000000f1' + '00'.repeat(129));

rootTest('namespace file handles are supported on this kernel', (t) => {
  t.true(namespaceFileHandlesSupported());
});

rootTest('a handle reopens its namespace while it lives', (t) => {
  const fd = newUserNamespace();
  try {
    const handle = namespaceFileHandle(fd);
    t.true(namespaceAlive(handle));
    const again = openNamespaceByHandle(handle);
    try {
      t.is(namespaceId(again), namespaceId(fd));
      t.is(namespaceOwnerUid(again), 61001);
    } finally {
      fs.closeSync(again);
    }
  } finally {
    fs.closeSync(fd);
  }
});

rootTest('a handle reports the namespace gone once its last fd is closed', async (t) => {
  const fd = newUserNamespace();
  const handle = namespaceFileHandle(fd);
  fs.closeSync(fd);
  // The kernel frees a user namespace from a work item after the last
  // reference goes (measured here: 35-80 ms), so poll.
  const start = Date.now();
  while (namespaceAlive(handle) === true && Date.now() - start < 5000) await sleep(2);
  t.log(`gone after ${Date.now() - start} ms`);
  t.false(namespaceAlive(handle));
  const error = t.throws(() => openNamespaceByHandle(handle), { instanceOf: SystemError });
  t.is(error?.code, 'ESTALE');
});

const unknown = test.macro({
  exec(t: ExecutionContext, mangle: (h: { handleType: number; bytes: Buffer }) => { handleType: number; bytes: Buffer }) {
    // The kernel answers ESTALE for these too; reporting "gone" would let a
    // corrupted record free what a live namespace uses.
    withFile('/proc/self/ns/user', (fd) => {
      t.is(namespaceAlive(mangle(namespaceFileHandle(fd))), undefined);
    });
  },
  title: (provided) => `namespaceAlive cannot tell for a handle ${provided}`,
});
// open_by_handle_at needs CAP_DAC_READ_SEARCH.
rootTest('of another type', unknown, (h) => ({ ...h, handleType: h.handleType + 1 }));
rootTest('of another length', unknown, (h) => ({ ...h, bytes: h.bytes.subarray(0, 8) }));
