// The one UserNamespace rule (IdmapDirectory and Mount): a non-root caller
// names only a namespace nsmountd allocated for it, root any but the
// initial one. Against the real kernel and a real allocator.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { BadFileDescriptor, WrongNamespace } from '../../src/errors';
import { closeQuietly } from '../../src/native/fd';
import { createUserNamespace } from '../../src/native/userns';
import { O_PATH } from '../../src/native/dirfd';
import { checkTargetNamespace } from '../../src/idmap/target-namespace';
import { BLOCK, makeTestAllocator } from '../userns/allocator-fixture';
import { CALLER, CALLER_NAMESPACE_MAPS, OTHER, callerNamespace } from './fixture';

const FIRST_BLOCK = 0x7300;
const ARGUMENT = 'options.UserNamespace';

function setup(t: { teardown(fn: () => void): void }) {
  const { allocator, dir } = makeTestAllocator({ firstBlock: FIRST_BLOCK, blocks: 2 });
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const keep = (fd: number) => {
    t.teardown(() => closeQuietly(fd));
    return fd;
  };
  const check = (fd: number, callerUid: number) => checkTargetNamespace(fd, { callerUid, allocations: allocator, argument: ARGUMENT });
  return { allocator, keep, check };
}

rootTest("a namespace allocated for the caller: its maps and name from the registry", async (t) => {
  const { allocator, keep, check } = setup(t);
  const allocation = await allocator.allocate({ ownerUid: CALLER.uid, ownerGid: CALLER.gid, name: 'mine', size: BLOCK });
  const fd = keep(allocation.fd);
  const map = [{ inside: 0, outside: allocation.base, count: BLOCK }];
  t.deepEqual(check(fd, CALLER.uid), { maps: { uidMap: map, gidMap: map }, name: 'mine' });
  t.deepEqual(check(fd, 0), { maps: { uidMap: map, gidMap: map }, name: 'mine' }, 'root may name it too');
});

rootTest('a namespace allocated for another user is refused', async (t) => {
  const { allocator, keep, check } = setup(t);
  const allocation = await allocator.allocate({ ownerUid: OTHER.uid, ownerGid: OTHER.gid, name: 'theirs', size: BLOCK });
  const fd = keep(allocation.fd);
  t.throws(() => check(fd, CALLER.uid), { instanceOf: WrongNamespace, message: /^options\.UserNamespace: the user namespace was allocated for another user/ });
});

// The rule that stays is the stronger one: owning a namespace is not enough,
// since its owner chose its maps (unshare -U, newuidmap) without nsmountd.
rootTest('a namespace the caller owns but nsmountd did not allocate is refused', (t) => {
  const { keep, check } = setup(t);
  const fd = keep(callerNamespace());
  t.throws(() => check(fd, CALLER.uid), { instanceOf: WrongNamespace, message: /^options\.UserNamespace: not a user namespace nsmountd allocated for the caller/ });
});

rootTest('root may name a namespace nsmountd did not allocate: its maps read from the kernel', (t) => {
  const { keep, check } = setup(t);
  const fd = keep(callerNamespace());
  t.deepEqual(check(fd, 0), { maps: CALLER_NAMESPACE_MAPS });
});

rootTest('the initial user namespace is refused, even for root', (t) => {
  const { keep, check } = setup(t);
  const fd = keep(fs.openSync('/proc/self/ns/user', 'r'));
  t.throws(() => check(fd, 0), { instanceOf: WrongNamespace, message: /^options\.UserNamespace: the initial user namespace/ });
  t.throws(() => check(fd, CALLER.uid), { instanceOf: WrongNamespace, message: /^options\.UserNamespace: not a user namespace nsmountd allocated/ });
});

rootTest('a mount namespace is a BadFileDescriptor naming the argument', (t) => {
  const { keep, check } = setup(t);
  const fd = keep(fs.openSync('/proc/self/ns/mnt', 'r'));
  t.throws(() => check(fd, CALLER.uid), { instanceOf: BadFileDescriptor, message: /^options\.UserNamespace: expected a user namespace, got a mnt namespace/ });
});

rootTest('a regular file or an O_PATH fd is a BadFileDescriptor naming the argument', (t) => {
  const { keep, check } = setup(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-target-ns-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, '');
  t.throws(() => check(keep(fs.openSync(file, 'r')), CALLER.uid), { instanceOf: BadFileDescriptor, message: /^options\.UserNamespace: expected a user namespace, got a regular file/ });
  const pathFd = keep(fs.openSync('/proc/self/ns/user', O_PATH));
  t.throws(() => check(pathFd, 0), { instanceOf: BadFileDescriptor, message: /O_PATH fd/ });
});

rootTest('a namespace made by root for someone else is no allocation either', (t) => {
  const { keep, check } = setup(t);
  const map = [{ inside: 0, outside: 2_000_000, count: 65536 }];
  const fd = keep(createUserNamespace({ ownerUid: OTHER.uid, ownerGid: OTHER.gid, uidMap: map, gidMap: map }));
  t.throws(() => check(fd, CALLER.uid), { instanceOf: WrongNamespace, message: /not a user namespace nsmountd allocated/ });
});
