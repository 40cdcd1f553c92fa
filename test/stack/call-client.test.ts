// The generic call client against a stand-in service, so its encoding,
// fd passing and --then are proven apart from nsmountd.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dbus, { type MessageBus } from 'dbus-next';
import { startPrivateSystemBus, type PrivateBus } from '../../src/stack/private-bus';
import { connectBus } from '../../src/stack/bus-connection';
import { runAsUser } from '../helpers/as-user';
import { CALL_CLIENT, FIXTURES } from '../helpers/paths';
import { rootSkipReason, rootTest } from '../helpers/root';
import { removeTree } from '../helpers/cleanup';
import { alice, type TestUser } from '../helpers/users';

const NAME = 'org.nsmount.StackTest';
let dir: string;
let bus: PrivateBus;
let service: MessageBus;

function serve(conn: MessageBus): void {
  conn.addMethodHandler((msg: dbus.Message) => {
    if (msg.interface !== NAME) return false;
    const received = collectFds(msg);
    let reply: dbus.Message;
    switch (msg.member) {
      case 'Echo':
        reply = dbus.Message.newMethodReturn(msg, msg.signature, msg.body);
        break;
      case 'Flags':
        reply = dbus.Message.newMethodReturn(msg, 'u', [msg.flags]);
        break;
      case 'UserNs': {
        const fd = fs.openSync('/proc/self/ns/user', 'r');
        received.push(fd);
        reply = dbus.Message.newMethodReturn(msg, 'ah', [[fd]]);
        break;
      }
      default:
        reply = dbus.Message.newError(msg as never, `${NAME}.Error.Nope`, `no ${msg.member} here`);
    }
    conn.send(reply);
    // usocket writes synchronously: the fds are in the kernel's hands now.
    for (const fd of received) fs.closeSync(fd);
    return true;
  });
}

/** This fixture only ever sends top-level 'h' arguments. */
function collectFds(msg: dbus.Message): number[] {
  return [...(msg.signature ?? '')].flatMap((c, i) => (c === 'h' ? [msg.body[i] as number] : []));
}

test.before(async () => {
  if (rootSkipReason) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-call-test-'));
  bus = await startPrivateSystemBus({ runtimeDir: dir, policyFiles: [path.join(FIXTURES, 'org.nsmount.StackTest.conf')] });
  service = await connectBus(bus.address);
  service.on('error', () => {});
  await service.requestName(NAME, 0);
  serve(service);
});

test.after.always(async () => {
  service?.disconnect();
  await bus?.stop();
  if (dir) removeTree(dir);
});

async function call(user: TestUser | 'root', member: string, args: string[] = [], fds: number[] = []): Promise<any> {
  const res = await runAsUser(user, [
    process.execPath, CALL_CLIENT, '--address', bus.address,
    '--destination', NAME, '--path', '/', '--interface', NAME, '--member', member, ...args,
  ], { fds });
  const lines = res.stdout.trim().split('\n');
  t_assertOneLine(lines, res.stderr);
  return JSON.parse(lines[0]);
}

function t_assertOneLine(lines: string[], stderr: string): void {
  if (lines.length !== 1) throw new Error(`expected one JSON line, got ${lines.length}: ${lines.join('\n')}\n${stderr}`);
}

rootTest('variants, dicts and 64-bit integers round-trip', async (t) => {
  const body = [{ A: { $v: ['s', 'x'] }, B: { $v: ['au', [1, 2]] } }, { $bigint: '18446744073709551615' }, [[1, 'one']]];
  const out = await call(alice, 'Echo', ['--signature', 'a{sv}ta(is)', '--body', JSON.stringify(body)]);
  t.deepEqual(out, {
    ok: true,
    body: [{ A: { $v: ['s', 'x'] }, B: { $v: ['au', [1, 2]] } }, '18446744073709551615', [[1, 'one']]],
    fds: [],
  });
});

rootTest('fds go out by path or by number and come back with what they point to', async (t) => {
  const inherited = fs.openSync('/etc/passwd', 'r');
  t.teardown(() => fs.closeSync(inherited));
  const body = [{ $fd: '/etc/hostname' }, { $fd: '/etc', mode: 'path-dir' }, { $fd: 3 }];
  const out = await call(alice, 'Echo', ['--signature', 'hhh', '--body', JSON.stringify(body)], [inherited]);
  t.true(out.ok, JSON.stringify(out));
  // /etc/passwd is the test namespace's bind-mounted copy: same name, other file.
  t.deepEqual(out.fds.map((f: any) => f.readlink), ['/etc/hostname', '/etc', '/etc/passwd']);
  const etc = fs.statSync('/etc');
  t.like(out.fds[1], { index: 1, stat: { ino: etc.ino, dev: etc.dev, uid: 0 } });
  t.deepEqual(out.body, out.fds.map((f: any) => f.fd));
});

rootTest('--then runs with the received fds as $FD0.. and as the calling user', async (t) => {
  const out = await call(alice, 'Echo', [
    '--signature', 'h', '--body', JSON.stringify([{ $fd: '/etc/hostname' }]),
    '--then', 'cat <&$FD0; id -u; exit 3',
  ]);
  t.deepEqual(out.then, { code: 3, stdout: `${fs.readFileSync('/etc/hostname', 'utf8')}${alice.uid}\n`, stderr: '' });
});

rootTest('user namespace fds report their owner', async (t) => {
  const out = await call(alice, 'UserNs', ['--then', 'readlink /proc/self/fd/$FD0']);
  t.regex(out.fds[0].readlink, /^user:\[\d+\]$/);
  t.is(out.fds[0].nsOwnerUid, 0);
  t.is(out.then.stdout.trim(), out.fds[0].readlink);
});

const flags = test.macro({
  async exec(t, args: string[], expected: number) {
    const out = await call(alice, 'Flags', args);
    t.deepEqual(out.body, [expected]);
  },
  title: (provided = '') => `ALLOW_INTERACTIVE_AUTHORIZATION ${provided}`,
});
rootTest('set by --interactive', flags, ['--interactive'], 0x4);
rootTest('unset by default', flags, [], 0);

rootTest('errors come back as name and message', async (t) => {
  t.deepEqual(await call(alice, 'Missing'), { ok: false, name: `${NAME}.Error.Nope`, message: 'no Missing here' });
});

rootTest('client failures are JSON too, with exit status 2', async (t) => {
  const res = await runAsUser(alice, [process.execPath, CALL_CLIENT, '--address', 'unix:path=/nonexistent', '--member', 'X']);
  t.is(res.code, 2);
  t.like(JSON.parse(res.stdout), { ok: false, name: 'client.Error' });
});
