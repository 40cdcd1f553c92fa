import test from 'ava';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice } from '../helpers/users';
import { nsmountctl } from '../helpers/nsmountctl';
import { holdNamespaces } from '../helpers/holder';
import { connect, type NsMountClient } from '../../src/client';

let root: NsMountClient;
test.after.always(async () => {
  root?.close();
});
const stack = useTestStack();
test.before(async () => {
  if (rootSkipReason) return;
  root = await connect({ address: stack.address });
});

rootTest.serial('status --json parses and matches ListUserNamespaces for the same user', async (t) => {
  const holder = await holdNamespaces(alice, stack.address, ['st-one', 'st-two']);
  try {
    const result = await nsmountctl(alice, stack.address, ['status', '--json']);
    t.is(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout);
    // Root sees every allocation; alice's rows are what she must see, no more.
    const expected = (await root.listUserNamespaces()).filter((n) => n.ownerUid === alice.uid);
    t.deepEqual(
      status.namespaces,
      expected.map((n) => ({ ...n, namespaceId: String(n.namespaceId), createdUsec: String(n.createdUsec) })),
    );
    t.deepEqual(status.namespaces.map((n: { name: string }) => n.name).sort(), ['st-one', 'st-two']);
    t.deepEqual(status.pool, { namespaces: 2, reservedIds: 2 * 65536 });
    t.is(status.version, (await root.properties()).version);
    t.true(status.features.includes('user-namespaces'));
    // nsswitch.conf here names files and systemd only: nothing to warn about.
    t.deepEqual(status.warnings, []);
    t.deepEqual(status.foreignRange, { base: 2147352576, count: 65536 });
    t.deepEqual(status.mounts, []);
  } finally {
    await holder.release();
  }
});

rootTest.serial('status prints tables with a header row and the namespaces', async (t) => {
  const holder = await holdNamespaces(alice, stack.address, ['st-table']);
  try {
    const result = await nsmountctl(alice, stack.address, ['status']);
    t.is(result.code, 0, result.stderr);
    t.regex(result.stdout, /^nsmountd \d+\.\d+\.\d+ on unix:/);
    t.regex(result.stdout, /^NAME +OWNER +UIDS +NAMESPACE ID +CREATED$/m);
    t.regex(result.stdout, new RegExp(`^st-table +${alice.uid} +\\d+-\\d+ +\\d+ +\\d{4}-`, 'm'));
    t.regex(result.stdout, /Attachments:\n  \(none\)/);
  } finally {
    await holder.release();
  }
});
