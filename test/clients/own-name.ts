// A stand-in bus-activatable service: connects to --address, takes --name
// and idles until killed. The launch helper clears the environment, so the
// address comes on the command line.
import { parseArgs } from 'node:util';
import { connectBus } from '../../src/stack/bus-connection';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { address: { type: 'string' }, name: { type: 'string' } } });
  if (!values.address || !values.name) throw new Error('usage: own-name --address A --name N');
  const bus = await connectBus(values.address);
  const reply = await bus.requestName(values.name, 0);
  if (reply !== 1) throw new Error(`RequestName(${values.name}) answered ${reply}`);
  // Keeps the process alive; the bus connection alone would too, but say so.
  setInterval(() => {}, 1 << 30);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
