// A sequence of calls on one connection as whoever runs it, where later
// calls can pass fds received by earlier ones: AllocateUserNamespace, then
// MakeDirectory, then IdmapDirectory into that namespace. Prints one JSON
// line: {"steps":[{name, ok, body, fds | error, message}], "then"?: {...}}.
//
//   node dist/test/clients/session.js --address A --script '{"steps":[
//     {"name":"ns","member":"AllocateUserNamespace","signature":"sua{sv}","body":["n",0,{}]},
//     {"name":"m","member":"IdmapDirectory","signature":"ha{sv}",
//      "body":[{"$fd":"/dir","mode":"path-dir"},{"UserNamespace":{"$v":["h",{"$ref":"ns"}]}}]}],
//    "then":"nsenter --user=/proc/self/fd/$FD_ns ..."}'
//
// {"$ref": "step", "index": i} is the i-th fd (default 0) that step
// received. `then` runs with every received fd open, named $FD_<step>
// (first fd) and $FD_<step>_<i>.
import fs from 'node:fs';

import { parseArgs } from 'node:util';
import dbus from 'dbus-next';
import { connectBus, safeDisconnect } from '../../src/stack/bus-connection';
import { decodeBody, encodeBody } from './dbus-json';
import { runShell, type ShellResult } from './shell';

const ALLOW_INTERACTIVE_AUTHORIZATION = 0x4;
const O_PATH = 0o10000000;
const OPEN_MODES: Record<string, number> = {
  r: fs.constants.O_RDONLY,
  rw: fs.constants.O_RDWR,
  path: O_PATH,
  dir: fs.constants.O_RDONLY | fs.constants.O_DIRECTORY,
  'path-dir': O_PATH | fs.constants.O_DIRECTORY,
};

interface Step {
  name: string;
  member: string;
  signature: string;
  body: unknown[];
  interactive?: boolean;
}

interface Script {
  steps: Step[];
  then?: string;
}

type StepResult = { name: string; ok: true; body: unknown[]; fds: number[] } | { name: string; ok: false; error: string; message: string };

function resolveRefs(json: unknown, received: Map<string, number[]>): unknown {
  if (Array.isArray(json)) return json.map((v) => resolveRefs(v, received));
  if (json && typeof json === 'object') {
    const o = json as Record<string, unknown>;
    if ('$ref' in o) {
      const fds = received.get(String(o.$ref));
      const fd = fds?.[Number(o.index ?? 0)];
      if (fd === undefined) throw new Error(`step ${String(o.$ref)} received no fd ${Number(o.index ?? 0)}`);
      return { $fd: fd };
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveRefs(v, received)]));
  }
  return json;
}

function runThen(command: string, received: Map<string, number[]>): Promise<ShellResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const extraFds: number[] = [];
  for (const [name, fds] of received) {
    fds.forEach((fd, i) => {
      const childFd = 3 + extraFds.length;
      extraFds.push(fd);
      env[`FD_${name}_${i}`] = String(childFd);
      if (i === 0) env[`FD_${name}`] = String(childFd);
    });
  }
  return runShell(command, { extraFds, env });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { address: { type: 'string' }, script: { type: 'string' } }, strict: true });
  const script = JSON.parse(values.script!) as Script;
  const bus = await connectBus(values.address!);
  bus.on('error', () => {});
  const received = new Map<string, number[]>();
  const results: StepResult[] = [];
  for (const step of script.steps) {
    const opened: number[] = [];
    try {
      const body = decodeBody(resolveRefs(step.body, received), ({ path, mode }) => {
        const fd = fs.openSync(path, OPEN_MODES[mode ?? 'r']);
        opened.push(fd);
        return fd;
      }) as unknown[];
      const reply = await bus.call(
        new dbus.Message({
          destination: 'org.nsmount.NsMount1',
          path: '/org/nsmount/NsMount1',
          interface: 'org.nsmount.NsMount1.Manager',
          member: step.member,
          signature: step.signature,
          body,
          flags: step.interactive ? ALLOW_INTERACTIVE_AUTHORIZATION : 0,
        }),
      );
      const fds: number[] = [];
      const encoded = reply ? encodeBody(reply.signature ?? '', reply.body ?? [], fds) : [];
      received.set(step.name, fds);
      results.push({ name: step.name, ok: true, body: encoded, fds });
    } catch (err) {
      const e = err as { type?: string; text?: string; message?: string };
      results.push({ name: step.name, ok: false, error: e.type ?? 'client.Error', message: e.text ?? e.message ?? String(err) });
    } finally {
      for (const fd of opened) fs.closeSync(fd);
    }
  }
  safeDisconnect(bus);
  const then = script.then === undefined ? undefined : await runThen(script.then, received);
  for (const fds of received.values()) for (const fd of fds) fs.closeSync(fd);
  process.stdout.write(JSON.stringify({ steps: results, then }) + '\n');
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stdout.write(JSON.stringify({ fatal: err.message }) + '\n');
    process.exit(2);
  },
);
