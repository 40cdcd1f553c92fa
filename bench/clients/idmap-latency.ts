// Runs as whichever user the benchmark picks. Allocates one user namespace,
// then times IdmapDirectory of --directory into it (foreign mode) or
// without one (owner mode), closing each returned mount fd at once, and
// prints one JSON line of samples (ms).
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import dbus from 'dbus-next';
import { connectBus } from '../../src/bus/connection';
import { callBus } from '../../src/bus/bus-call';
import { closeQuietly } from '../../src/native/fd';

const MANAGER = { destination: 'org.nsmount.NsMount1', path: '/org/nsmount/NsMount1', interface: 'org.nsmount.NsMount1.Manager' };
const O_PATH = 0o10000000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string' },
      directory: { type: 'string' },
      mode: { type: 'string', default: 'foreign' },
      iterations: { type: 'string', default: '300' },
      warmup: { type: 'string', default: '20' },
      tag: { type: 'string', default: String(process.pid) },
    },
  });
  const bus = await connectBus({ address: values.address! });
  const directoryFd = fs.openSync(values.directory!, O_PATH | fs.constants.O_DIRECTORY);
  const options: Record<string, dbus.Variant> = { Mode: new dbus.Variant('s', values.mode!) };
  let namespaceFd: number | undefined;
  if (values.mode === 'foreign') {
    [namespaceFd] = (await callBus(bus, { ...MANAGER, member: 'AllocateUserNamespace', signature: 'sua{sv}', body: [`idmap-bench-${values.tag}`, 0, {}] })) as [number];
    options.UserNamespace = new dbus.Variant('h', namespaceFd);
  }
  const once = async () => {
    const [mountFd] = (await callBus(bus, { ...MANAGER, member: 'IdmapDirectory', signature: 'ha{sv}', body: [directoryFd, options] })) as [number];
    closeQuietly(mountFd);
  };
  for (let i = 0; i < Number(values.warmup); i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < Number(values.iterations); i++) {
    const start = process.hrtime.bigint();
    await once();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  closeQuietly(namespaceFd);
  fs.closeSync(directoryFd);
  bus.disconnect();
  process.stdout.write(JSON.stringify({ samples }) + '\n');
}

main().catch((err: Error) => {
  process.stdout.write(JSON.stringify({ error: err.message }) + '\n');
  process.exit(2);
});
