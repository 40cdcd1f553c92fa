// Runs as whichever user the benchmark picks. Measures, inside this
// process, the latency of one kind of call repeated --iterations times
// after --warmup calls, and prints one JSON line of samples (ms).
//   --kind allocate           AllocateUserNamespace (closes the fd at once)
//   --kind check-authorization polkit CheckAuthorization of this very connection
//   --kind ping               Peer.Ping to nsmountd: the bus round trip every method pays
import { parseArgs } from 'node:util';
import dbus from 'dbus-next';
import { connectBus } from '../../src/bus/connection';
import { callBus } from '../../src/bus/bus-call';
import { closeQuietly } from '../../src/native/fd';

const MANAGER = { destination: 'org.nsmount.NsMount1', path: '/org/nsmount/NsMount1', interface: 'org.nsmount.NsMount1.Manager' };
const AUTHORITY = {
  destination: 'org.freedesktop.PolicyKit1',
  path: '/org/freedesktop/PolicyKit1/Authority',
  interface: 'org.freedesktop.PolicyKit1.Authority',
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string' },
      kind: { type: 'string' },
      iterations: { type: 'string', default: '300' },
      warmup: { type: 'string', default: '20' },
      tag: { type: 'string', default: String(process.pid) },
      action: { type: 'string', default: 'org.nsmount.allocate-user-namespace' },
    },
  });
  const bus = await connectBus({ address: values.address! });
  let counter = 0;
  const once: Record<string, () => Promise<void>> = {
    allocate: async () => {
      const [fd] = (await callBus(bus, {
        ...MANAGER,
        member: 'AllocateUserNamespace',
        signature: 'sua{sv}',
        body: [`bench-${values.tag}-${counter++}`, 0, {}],
      })) as [number];
      closeQuietly(fd);
    },
    ping: async () => {
      await callBus(bus, { destination: MANAGER.destination, path: MANAGER.path, interface: 'org.freedesktop.DBus.Peer', member: 'Ping' });
    },
    'check-authorization': async () => {
      const subject = ['system-bus-name', { name: new dbus.Variant('s', (bus as unknown as { name: string }).name) }];
      const [result] = (await callBus(bus, {
        ...AUTHORITY,
        member: 'CheckAuthorization',
        signature: '(sa{sv})sa{ss}us',
        body: [subject, values.action, {}, 0, ''],
      })) as [[boolean]];
      if (!result[0]) throw new Error('CheckAuthorization did not authorize; the benchmark needs an allowed action');
    },
  };
  const call = once[values.kind!];
  if (!call) throw new Error(`unknown --kind ${values.kind}`);
  for (let i = 0; i < Number(values.warmup); i++) await call();
  const samples: number[] = [];
  for (let i = 0; i < Number(values.iterations); i++) {
    const start = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  bus.disconnect();
  process.stdout.write(JSON.stringify({ samples }) + '\n');
}

main().catch((err: Error) => {
  process.stdout.write(JSON.stringify({ error: err.message }) + '\n');
  process.exit(2);
});
