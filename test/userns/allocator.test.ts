// The allocator against the real kernel and a registry in a temp dir, with
// the exclusion sources pointed at files the test controls.
import fs from 'node:fs';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { type ExclusionSources } from '../../src/userns/exclusions';
import { NsresourcedRegistryUnreadable } from '../../src/userns/nsresourced-registry';
import { closeQuietly } from '../../src/native/fd';
import { namespaceId, namespaceOwnerUid, readUserNamespaceMaps } from '../../src/native/nsfs';
import { NameExists, QuotaExceeded, RangeExhausted } from '../../src/errors';
import type { Allocation, UserNamespaceAllocator } from '../../src/userns/allocator';
import { makeTestAllocator } from './allocator-fixture';

const B = 65536;
const FIRST_BLOCK = 0x7100;

function allocatorWith(sources: Partial<ExclusionSources>) {
  return makeTestAllocator({ firstBlock: FIRST_BLOCK, blocks: 3, sources });
}

const request = { ownerUid: 61001, ownerGid: 61001, name: 'n', size: B };

rootTest('a block whose first or last id NSS knows only by lookup is passed over', async (t) => {
  // What sssd with enumeration off looks like: listed nowhere, found by getpwuid.
  const ldapUid = (FIRST_BLOCK + 1) * B - 1; // the last id of the first block
  const { allocator } = allocatorWith({ nssKnowsId: (kind, id) => kind === 'uid' && id === ldapUid });
  const got = await allocator.allocate(request);
  closeQuietly(got.fd);
  t.is(got.base, (FIRST_BLOCK + 1) * B);
});

rootTest('an unreadable nsresourced registry refuses the allocation and records nothing', async (t) => {
  const { allocator, dir } = allocatorWith({});
  fs.writeFileSync(path.join(dir, 'nsresource-registry'), 'not a directory');
  const error = await t.throwsAsync(() => allocator.allocate(request), { instanceOf: NsresourcedRegistryUnreadable });
  t.is(error!.dbusName, 'org.nsmount.NsMount1.Error.System');
  t.deepEqual(allocator.list(), []);
});

rootTest('nsresourced ranges, uid and gid alike, are passed over', async (t) => {
  const { allocator, dir } = allocatorWith({});
  const registry = path.join(dir, 'nsresource-registry');
  fs.mkdirSync(registry);
  fs.writeFileSync(path.join(registry, 'i1.userns'), JSON.stringify({ owner: 0, name: 'a', userns: 1, start: 0x10000, startGid: FIRST_BLOCK * B, size: B }));
  fs.writeFileSync(path.join(registry, `u${(FIRST_BLOCK + 1) * B}.delegate`), JSON.stringify({ userns: 1, start: (FIRST_BLOCK + 1) * B, startGid: 0x20000, size: B }));
  const got = await allocator.allocate(request);
  closeQuietly(got.fd);
  t.is(got.base, (FIRST_BLOCK + 2) * B);
});

// The allocator's own rules, on a pool of a few blocks of its own.
const OWN_POOL_FIRST = 0x7200;
const alice = { ownerUid: 61001, ownerGid: 61001, size: B };
const bob = { ownerUid: 61002, ownerGid: 61002, size: B };

/** Sweeps until a closed namespace's block is back (the kernel frees a namespace tens of ms after its last fd). */
async function sweepUntilFreed(allocator: UserNamespaceAllocator): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const freed = allocator.sweep();
    if (freed > 0 || Date.now() > deadline) return freed;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

rootTest('an allocation is a namespace owned by the caller, mapping 0 to its block, and recorded', async (t) => {
  const { allocator } = makeTestAllocator({ firstBlock: OWN_POOL_FIRST, blocks: 2 });
  const got = await allocator.allocate({ ...alice, name: 'mapped', size: 1000 });
  t.teardown(() => closeQuietly(got.fd));
  t.is(got.base, OWN_POOL_FIRST * B);
  t.is(namespaceOwnerUid(got.fd), alice.ownerUid);
  const maps = readUserNamespaceMaps(got.fd);
  t.deepEqual(maps.uidMap, [{ inside: 0, outside: got.base, count: 1000 }]);
  t.deepEqual(maps.gidMap, [{ inside: 0, outside: got.base, count: 1000 }]);
  t.is(namespaceId(got.fd), got.namespaceId);
  t.like(allocator.findByNamespaceId(got.namespaceId), { name: 'mapped', ownerUid: alice.ownerUid, base: got.base, size: 1000 });
  t.deepEqual(allocator.list({ ownerUid: alice.ownerUid }).map((n) => n.name), ['mapped']);
  t.deepEqual(allocator.list({ ownerUid: bob.ownerUid }), []);
});

rootTest('a name is the owner\'s: taken while its namespace lives, free for others, and free again once it is gone', async (t) => {
  const { allocator } = makeTestAllocator({ firstBlock: OWN_POOL_FIRST + 2, blocks: 3 });
  const first = await allocator.allocate({ ...alice, name: 'build' });
  await t.throwsAsync(() => allocator.allocate({ ...alice, name: 'build' }), { instanceOf: NameExists, message: /"build"/ });
  const bobs = await allocator.allocate({ ...bob, name: 'build' });
  closeQuietly(bobs.fd);
  closeQuietly(first.fd);
  // Waits inside allocate for the closed namespace to go, then takes the name again.
  const again = await allocator.allocate({ ...alice, name: 'build' });
  closeQuietly(again.fd);
  t.not(again.namespaceId, first.namespaceId);
});

rootTest('the quota counts live namespaces: the one past it is refused, and one closed makes room', async (t) => {
  const { allocator } = makeTestAllocator({ firstBlock: OWN_POOL_FIRST + 5, blocks: 6 });
  const held: Allocation[] = [];
  for (let i = 0; i < 4; i++) held.push(await allocator.allocate({ ...alice, name: `q${i}` }));
  t.teardown(() => held.forEach((a) => closeQuietly(a.fd)));
  await t.throwsAsync(() => allocator.allocate({ ...alice, name: 'q4' }), { instanceOf: QuotaExceeded, message: /quota 4/ });
  t.is(allocator.list({ ownerUid: alice.ownerUid }).length, 4, 'a refused allocation records nothing');
  closeQuietly(held.pop()!.fd);
  t.is(await sweepUntilFreed(allocator), 1);
  held.push(await allocator.allocate({ ...alice, name: 'q4' }));
  t.is(allocator.list({ ownerUid: alice.ownerUid }).length, 4);
});

rootTest('a freed block goes back to its last owner, never to another user', async (t) => {
  const { allocator } = makeTestAllocator({ firstBlock: OWN_POOL_FIRST + 11, blocks: 2 });
  const alices = await allocator.allocate({ ...alice, name: 'a' });
  closeQuietly(alices.fd);
  t.is(await sweepUntilFreed(allocator), 1);
  t.deepEqual(allocator.list(), []);
  const bobs = await allocator.allocate({ ...bob, name: 'b' });
  t.teardown(() => closeQuietly(bobs.fd));
  t.not(bobs.base, alices.base);
  await t.throwsAsync(() => allocator.allocate({ ...bob, name: 'b2' }), { instanceOf: RangeExhausted });
  const alicesAgain = await allocator.allocate({ ...alice, name: 'a' });
  closeQuietly(alicesAgain.fd);
  t.is(alicesAgain.base, alices.base);
});
