// The allocator against the real kernel and a registry in a temp dir, with
// the exclusion sources pointed at files the test controls.
import fs from 'node:fs';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { type ExclusionSources } from '../../src/userns/exclusions';
import { NsresourcedRegistryUnreadable } from '../../src/userns/nsresourced-registry';
import { closeQuietly } from '../../src/native/fd';
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
