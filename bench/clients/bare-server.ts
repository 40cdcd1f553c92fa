// The floor under every nsmountd call, measured in the same run: a bare
// dbus-next server (usocket transport, fds negotiated, nothing of
// nsmountd's: no fd-aware reader, no dispatcher, no logging) that owns
// --name and answers Peer.Ping. Prints {"ready":true} once it owns the name
// and exits when stdin closes.
import { parseArgs } from 'node:util';
import readline from 'node:readline';
import dbus from 'dbus-next';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { address: { type: 'string' }, name: { type: 'string' } } });
  const bus = dbus.sessionBus({ busAddress: values.address!, negotiateUnixFd: true } as never);
  bus.addMethodHandler((msg: dbus.Message) => {
    if (msg.interface !== 'org.freedesktop.DBus.Peer' || msg.member !== 'Ping') return false;
    bus.send(dbus.Message.newMethodReturn(msg, '', []));
    return true;
  });
  await bus.requestName(values.name!, 0);
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  const lines = readline.createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => lines.once('close', () => resolve()));
  bus.disconnect();
}

main().catch((err: Error) => {
  process.stdout.write(JSON.stringify({ fatal: err.message }) + '\n');
  process.exit(2);
});
