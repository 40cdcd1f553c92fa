// A bus peer as whoever runs it: connects to --address, prints its unique
// name as one line, and stays connected until its stdin closes.
import { parseArgs } from 'node:util';
import { connectBus, safeDisconnect } from '../../src/stack/bus-connection';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { address: { type: 'string' } } });
  if (!values.address) throw new Error('usage: stay-on-bus --address A');
  const bus = await connectBus(values.address);
  // dbus-next sets it on Hello but does not declare it.
  process.stdout.write(`${(bus as unknown as { name: string }).name}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    safeDisconnect(bus);
    process.exit(0);
  });
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
