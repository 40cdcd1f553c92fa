// Allocates user namespaces as whoever runs it and keeps their fds open
// until stdin closes, so tests can hold namespaces alive across calls.
// Prints one JSON line per name: {"name","ok":true,"base","size"} or {"name","ok":false,"error","message"}.
import { parseArgs } from 'node:util';
import dbus from 'dbus-next';
import { connectBus } from '../../src/bus/connection';
import { callBus } from '../../src/bus/bus-call';
import { BusCallError } from '../../src/bus/bus-call';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { address: { type: 'string' }, names: { type: 'string' }, size: { type: 'string', default: '0' }, parallel: { type: 'boolean', default: false } } });
  const bus = await connectBus({ address: values.address! });
  const held: number[] = [];
  const allocate = async (name: string): Promise<Record<string, unknown>> => {
    try {
      const [fd, base, size] = (await callBus(bus, {
        destination: 'org.nsmount.NsMount1',
        path: '/org/nsmount/NsMount1',
        interface: 'org.nsmount.NsMount1.Manager',
        member: 'AllocateUserNamespace',
        signature: 'sua{sv}',
        body: [name, Number(values.size), {}],
      })) as [number, number, number];
      held.push(fd);
      return { name, ok: true, base, size };
    } catch (err) {
      const e = err as BusCallError;
      return { name, ok: false, error: e.errorName, message: e.message };
    }
  };
  const names = values.names!.split(',');
  const results: Array<Record<string, unknown>> = [];
  if (values.parallel) results.push(...(await Promise.all(names.map(allocate))));
  else for (const name of names) results.push(await allocate(name));
  for (const r of results) process.stdout.write(JSON.stringify(r) + '\n');
  process.stdout.write(JSON.stringify({ done: true }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    bus.disconnect();
    process.exit(0);
  });
  void dbus;
}

main().catch((err: Error) => {
  process.stdout.write(JSON.stringify({ fatal: err.message }) + '\n');
  process.exit(2);
});
