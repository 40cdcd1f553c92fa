// Sends --count identical calls on one connection at once and prints one
// JSON line per reply as it arrives ({index, ok, name?}). After the first
// reply it creates --gate, which a test's polkit rule may be waiting for.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import dbus from 'dbus-next';
import { connectBus, safeDisconnect } from '../../src/stack/bus-connection';
import { SERVICE_NAME, SERVICE_PATH, MANAGER_INTERFACE } from '../helpers/paths';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string' },
      member: { type: 'string' },
      signature: { type: 'string', default: '' },
      body: { type: 'string', default: '[]' },
      count: { type: 'string', default: '1' },
      gate: { type: 'string' },
    },
  });
  const bus = await connectBus(values.address!);
  const body = JSON.parse(values.body!) as unknown[];
  let replies = 0;
  const calls = Array.from({ length: Number(values.count) }, (_, index) =>
    bus
      .call(new dbus.Message({ destination: SERVICE_NAME, path: SERVICE_PATH, interface: MANAGER_INTERFACE, member: values.member!, signature: values.signature, body }))
      .then(
        () => ({ index, ok: true }),
        (err: dbus.DBusError) => ({ index, ok: false, name: err.type }),
      )
      .then((line) => {
        process.stdout.write(JSON.stringify(line) + '\n');
        if (replies++ === 0 && values.gate) fs.writeFileSync(values.gate, '');
      }),
  );
  await Promise.all(calls);
  safeDisconnect(bus);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
