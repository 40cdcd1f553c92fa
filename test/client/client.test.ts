import test from 'ava';
import fs from 'node:fs';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { connect, InvalidArgument, NameExists, NsMountDBusError, OwnedFd, type NsMountClient } from '../../src/client';

let client: NsMountClient;
test.after.always(async () => {
  client?.close();
});
const stack = useTestStack();
test.before(async () => {
  if (rootSkipReason) return;
  client = await connect({ address: stack.address });
});

rootTest('allocateUserNamespace returns an OwnedFd of a user namespace that `using` closes', async (t) => {
  let fd: number;
  {
    using allocated = (await client.allocateUserNamespace('client-dispose')).userNamespace;
    t.true(allocated instanceof OwnedFd);
    fd = allocated.fd;
    t.regex(fs.readlinkSync(`/proc/self/fd/${fd}`), /^user:\[\d+\]$/);
  }
  t.throws(() => fs.fstatSync(fd), { code: 'EBADF' });
});

rootTest('listUserNamespaces shows a live allocation with bigint ids', async (t) => {
  const { userNamespace, base, size } = await client.allocateUserNamespace('client-list', { size: 1000 });
  try {
    const found = (await client.listUserNamespaces()).find((n) => n.name === 'client-list');
    t.like(found, { name: 'client-list', ownerUid: 0, base, size });
    t.is(typeof found!.namespaceId, 'bigint');
  } finally {
    userNamespace.close();
  }
});

rootTest('D-Bus errors arrive as typed errors carrying their D-Bus name', async (t) => {
  const err = await t.throwsAsync(client.allocateUserNamespace('bad name!'), { instanceOf: InvalidArgument });
  t.is(err!.dbusName, 'org.nsmount.NsMount1.Error.InvalidArgument');
  t.regex(err!.message, /^name: /);

  const held = await client.allocateUserNamespace('client-twice');
  try {
    const twice = await t.throwsAsync(client.allocateUserNamespace('client-twice'), { instanceOf: NameExists });
    t.true(twice instanceof NsMountDBusError);
  } finally {
    held.userNamespace.close();
  }
});

rootTest('properties() reads the Manager properties', async (t) => {
  const props = await client.properties();
  t.regex(props.version, /^\d+\.\d+\.\d+/);
  t.is(props.foreignUidBase, 2147352576);
  t.is(props.foreignUidCount, 65536);
  t.true(props.features.includes('idmapped-mounts'));
});

rootTest('OwnedFd refuses use after close, so a reused fd number is never touched', (t) => {
  const owned = new OwnedFd(fs.openSync('/dev/null', 'r'));
  owned.close();
  t.true(owned.closed);
  t.throws(() => owned.fd, { message: /already closed/ });
  t.notThrows(() => owned.close());
});
