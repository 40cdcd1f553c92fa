// A caller who closes its namespace gets its own block back at its next
// allocation, however many namespaces other users hold. The registry's
// round-robin sweep alone reaches a given record only once per (records / 2)
// allocations; without a sweep of the caller's own records, a registry
// full of others' namespaces made every allocation take a never-used block
// and pay the NSS lookups for it, a cost that grew with the registry.
import fs from 'node:fs';
import { rootTest } from '../helpers/root';
import { namespaceAlive, decodeHandle } from '../../src/native/nsfs';
import { closeQuietly } from '../../src/native/fd';
import { makeTestAllocator } from './allocator-fixture';

const B = 65536;
const FIRST_BLOCK = 0x7300;
/** Others' live namespaces: 50 owners at the fixture's quota of 4. */
const OTHER_OWNERS = 50;
const PER_OWNER = 4;

async function waitUntilGone(handle: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (namespaceAlive(decodeHandle(handle)) !== false) {
    if (Date.now() > deadline) throw new Error('the closed namespace was not freed within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

rootTest('a closed namespace gives its block back to its owner with 200 of other users\' namespaces live', async (t) => {
  let lookups = 0;
  const { allocator, store, dir } = makeTestAllocator({
    firstBlock: FIRST_BLOCK,
    blocks: OTHER_OWNERS * PER_OWNER + 8,
    sources: { nssKnowsId: () => (lookups++, false) },
  });
  const held: number[] = [];
  try {
    const caller = { ownerUid: 62000, ownerGid: 62000, size: B };
    for (let round = 0; round < 3; round++) {
      const first = await allocator.allocate({ ...caller, name: `first-${round}` });
      // Others allocate meanwhile, so the registry fills up around the caller's record.
      for (let i = 0; i < (round === 0 ? OTHER_OWNERS * PER_OWNER : 0); i++) {
        const owner = 62001 + (i % OTHER_OWNERS);
        held.push((await allocator.allocate({ ownerUid: owner, ownerGid: owner, size: B, name: `n${i}` })).fd);
      }
      const handle = store.read().namespaces.get(String(first.base))!.handle!;
      closeQuietly(first.fd);
      await waitUntilGone(handle);
      const before = lookups;
      const again = await allocator.allocate({ ...caller, name: `again-${round}` });
      closeQuietly(again.fd);
      await waitUntilGone(store.read().namespaces.get(String(again.base))!.handle!);
      t.is(again.base, first.base, `round ${round}: the caller got block ${again.base / B} instead of its own ${first.base / B}`);
      t.is(lookups, before, 'a block of its own needs no NSS lookup');
    }
    t.is(store.read().namespaces.size, OTHER_OWNERS * PER_OWNER + 1, "others' namespaces stay recorded; the caller's last one waits for a sweep");
  } finally {
    for (const fd of held) closeQuietly(fd);
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
