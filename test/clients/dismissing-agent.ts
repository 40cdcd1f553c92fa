// A polkit authentication agent whose person always presses Cancel, as in
// a desktop's dialog: it answers BeginAuthentication with
// org.freedesktop.PolicyKit1.Error.Cancelled, which is what makes polkitd
// report "polkit.dismissed". pkttyagent has no way to say that (it fails
// or dies, never cancels), so this stands in for a desktop agent.
//
// Registers for its own process, then makes one nsmountd call with the
// interactive flag and prints one JSON line like call.js:
//   node dismissing-agent.js --address A --member M --signature S --body JSON
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import dbus from 'dbus-next';
import { connectBus, safeDisconnect } from '../../src/stack/bus-connection';

const AGENT_PATH = '/org/nsmount/test/DismissingAgent';
const AGENT_INTERFACE = 'org.freedesktop.PolicyKit1.AuthenticationAgent';
const ALLOW_INTERACTIVE_AUTHORIZATION = 0x4;

function startTime(): bigint {
  // Field 22 of /proc/self/stat, counted after the parenthesised command name.
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return BigInt(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { address: { type: 'string' }, member: { type: 'string' }, signature: { type: 'string' }, body: { type: 'string' } },
  });
  const bus = await connectBus(values.address!);
  bus.on('error', () => {});
  let asked = 0;
  bus.addMethodHandler((msg: dbus.Message) => {
    if (msg.path !== AGENT_PATH || msg.interface !== AGENT_INTERFACE) return false;
    if (msg.member === 'BeginAuthentication') {
      asked++;
      bus.send(dbus.Message.newError(msg as unknown as string, 'org.freedesktop.PolicyKit1.Error.Cancelled', 'The dialog was dismissed'));
    } else {
      bus.send(dbus.Message.newMethodReturn(msg, '', []));
    }
    return true;
  });
  const subject = ['unix-process', { pid: new dbus.Variant('u', process.pid), 'start-time': new dbus.Variant('t', startTime()) }];
  await bus.call(new dbus.Message({
    destination: 'org.freedesktop.PolicyKit1',
    path: '/org/freedesktop/PolicyKit1/Authority',
    interface: 'org.freedesktop.PolicyKit1.Authority',
    member: 'RegisterAuthenticationAgent',
    signature: '(sa{sv})ss',
    body: [subject, 'C', AGENT_PATH],
  }));
  try {
    await bus.call(new dbus.Message({
      destination: 'org.nsmount.NsMount1',
      path: '/org/nsmount/NsMount1',
      interface: 'org.nsmount.NsMount1.Manager',
      member: values.member!,
      signature: values.signature!,
      body: JSON.parse(values.body!),
      flags: ALLOW_INTERACTIVE_AUTHORIZATION,
    }));
    process.stdout.write(JSON.stringify({ ok: true, asked }) + '\n');
  } catch (err) {
    if (!(err instanceof dbus.DBusError)) throw err;
    process.stdout.write(JSON.stringify({ ok: false, name: err.type, message: err.text, asked }) + '\n');
  } finally {
    safeDisconnect(bus);
  }
}

main().catch((err: Error) => {
  process.stdout.write(JSON.stringify({ ok: false, name: 'client.Error', message: err.message }) + '\n');
  process.exit(2);
});
