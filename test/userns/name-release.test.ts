// A namespace's name against the kernel's deferred free: the kernel frees a
// user namespace some tens of ms after its last fd closes, and until then
// it still opens by handle. The allocator waits for such a namespace
// instead of answering NameExists, without holding up other calls, and
// never lists one that is gone.
import fs from 'node:fs';
import { rootTest } from '../helpers/root';
import { NameExists } from '../../src/errors';
import { namespaceAlive, decodeHandle } from '../../src/native/nsfs';
import { closeQuietly } from '../../src/native/fd';
import { makeTestAllocator } from './allocator-fixture';

const B = 65536;
const FIRST_BLOCK = 0x7200;

function setUp() {
  return makeTestAllocator({ firstBlock: FIRST_BLOCK, blocks: 4 });
}

const alice = { ownerUid: 61001, ownerGid: 61001, size: B };
const bob = { ownerUid: 61002, ownerGid: 61002, size: B };

rootTest('a name is free again right after its namespace loses its last fd', async (t) => {
  const { allocator, store, dir } = setUp();
  try {
    const first = await allocator.allocate({ ...alice, name: 'again' });
    closeQuietly(first.fd);
    const second = await allocator.allocate({ ...alice, name: 'again' });
    closeQuietly(second.fd);
    t.not(second.namespaceId, first.namespaceId);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

rootTest('a clash with a namespace still in use waits without holding up other calls, then is NameExists', async (t) => {
  const { allocator, store, dir } = setUp();
  const held = await allocator.allocate({ ...alice, name: 'busy' });
  try {
    let settled = false;
    const clash = allocator.allocate({ ...alice, name: 'busy' });
    clash.then(
      () => (settled = true),
      () => (settled = true),
    );
    const other = await allocator.allocate({ ...bob, name: 'meanwhile' });
    closeQuietly(other.fd);
    t.false(settled, "bob's allocation was answered while alice's clash was still waiting");
    await t.throwsAsync(clash, { instanceOf: NameExists });
  } finally {
    closeQuietly(held.fd);
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

rootTest('a namespace that is gone is not listed, though the registry still records it until a sweep', async (t) => {
  const { allocator, store, dir } = setUp();
  try {
    const gone = await allocator.allocate({ ...alice, name: 'gone' });
    const kept = await allocator.allocate({ ...alice, name: 'kept' });
    closeQuietly(gone.fd);
    const record = store.read().namespaces.all().find((n) => n.name === 'gone')!;
    // Polling the kernel, not a clock: the test ends once the namespace is freed.
    while (namespaceAlive(decodeHandle(record.handle!))) await new Promise((r) => setTimeout(r, 5));
    t.true(store.read().namespaces.all().some((n) => n.name === 'gone'), 'still recorded');
    t.deepEqual(
      allocator.list({ ownerUid: alice.ownerUid }).map((n) => n.name),
      ['kept'],
    );
    t.deepEqual(
      allocator.list().map((n) => n.name),
      ['kept'],
    );
    closeQuietly(kept.fd);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
