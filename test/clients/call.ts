// Generic D-Bus client for tests, run as whichever user the test picks
// (runAsUser). Makes one method call and prints exactly one JSON line:
//   {"ok":true,"body":[...],"fds":[{index,fd,readlink,stat,nsOwnerUid?}],"then"?:{code,stdout,stderr}}
//   {"ok":false,"name":"org...Error.X","message":"..."}
// Exit status: 0 when a reply or a D-Bus error was printed, 2 when the
// client itself failed (bad arguments, no bus); the JSON says which.
//
//   node dist/test/clients/call.js --address A --member Mount --signature 'ha{sv}' \
//     --body '[{"$fd":"/img","mode":"r"},{"ReadOnly":{"$v":["b",true]}}]' \
//     --then 'nsenter --user=/proc/self/fd/$FD0 cat /proc/self/uid_map'
import fs from 'node:fs';

import { parseArgs } from 'node:util';
import dbus from 'dbus-next';
import { connectBus, safeDisconnect } from '../../src/stack/bus-connection';
import { decodeBody, encodeBody } from './dbus-json';
import { fdInfo } from './fd-info';
import { runShell, type ShellResult } from './shell';

const ALLOW_INTERACTIVE_AUTHORIZATION = 0x4;

// O_PATH is missing from fs.constants; the value is the same on every Linux arch Node runs on but alpha/parisc/sparc.
const O_PATH = 0o10000000;
const OPEN_MODES: Record<string, number> = {
  r: fs.constants.O_RDONLY,
  w: fs.constants.O_WRONLY,
  rw: fs.constants.O_RDWR,
  path: O_PATH,
  dir: fs.constants.O_RDONLY | fs.constants.O_DIRECTORY,
  'path-dir': O_PATH | fs.constants.O_DIRECTORY,
};

class ClientError extends Error {}

function print(result: unknown): void {
  process.stdout.write(JSON.stringify(result) + '\n');
}

function runThen(command: string, fds: number[]): Promise<ShellResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  fds.forEach((_, i) => (env[`FD${i}`] = String(3 + i)));
  return runShell(command, { extraFds: fds, env });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string' },
      destination: { type: 'string', default: 'org.nsmount.NsMount1' },
      path: { type: 'string', default: '/org/nsmount/NsMount1' },
      interface: { type: 'string', default: 'org.nsmount.NsMount1.Manager' },
      member: { type: 'string' },
      signature: { type: 'string', default: '' },
      body: { type: 'string', default: '[]' },
      'open-mode': { type: 'string', default: 'r' },
      interactive: { type: 'boolean', default: false },
      then: { type: 'string' },
      'timeout-ms': { type: 'string', default: '30000' },
    },
    strict: true,
  });
  const address = values.address ?? process.env.DBUS_SYSTEM_BUS_ADDRESS;
  if (!address) throw new ClientError('--address or DBUS_SYSTEM_BUS_ADDRESS is required');
  if (!values.member) throw new ClientError('--member is required');

  const opened: number[] = [];
  const body = decodeBody(JSON.parse(values.body!), ({ path, mode }) => {
    const flags = OPEN_MODES[mode ?? values['open-mode']!];
    if (flags === undefined) throw new ClientError(`unknown open mode ${mode}; use ${Object.keys(OPEN_MODES).join('|')}`);
    const fd = fs.openSync(path, flags);
    opened.push(fd);
    return fd;
  });
  if (!Array.isArray(body)) throw new ClientError('--body must be a JSON array');

  // connectBus refuses a connection that cannot pass fds.
  const bus = await connectBus(address);
  bus.on('error', () => {});
  const msg = new dbus.Message({
    destination: values.destination,
    path: values.path,
    interface: values.interface,
    member: values.member,
    signature: values.signature,
    body,
    flags: values.interactive ? ALLOW_INTERACTIVE_AUTHORIZATION : 0,
  });
  let reply: dbus.Message | null;
  const timeoutMs = Number(values['timeout-ms']);
  try {
    reply = await Promise.race([
      bus.call(msg),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new ClientError(`no reply within ${timeoutMs} ms`)), timeoutMs).unref(),
      ),
    ]);
  } catch (err) {
    safeDisconnect(bus);
    if (err instanceof dbus.DBusError) {
      print({ ok: false, name: err.type, message: err.text });
      return 0;
    }
    throw err;
  } finally {
    for (const fd of opened) fs.closeSync(fd);
  }
  safeDisconnect(bus);

  const fds: number[] = [];
  const encoded = reply ? encodeBody(reply.signature ?? '', reply.body ?? [], fds) : [];
  const result: Record<string, unknown> = { ok: true, body: encoded, fds: fds.map((fd, i) => fdInfo(fd, i)) };
  if (values.then !== undefined) result.then = await runThen(values.then, fds);
  for (const fd of fds) fs.closeSync(fd);
  print(result);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    print({ ok: false, name: 'client.Error', message: err.message });
    process.exit(2);
  },
);
