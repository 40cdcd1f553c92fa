// Loads dbus/org.nsmount.NsMount1.conf into a real dbus-daemon and checks
// that the bus itself enforces ownership and the per-member fd limits, so
// an over-stuffed call is refused before it reaches the daemon.
import test, { ExecutionContext } from 'ava';
import { rootSkipReason, rootTest } from '../helpers/root';
import * as dbus from 'dbus-next';
import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startPrivateSystemBus, PrivateBus } from '../../src/stack/private-bus';
import { connect, callWithFds, tryOwn, CallSpec, NAME, MANAGER } from './bus-client';

const POLICY = resolve(__dirname, '../../../dbus/org.nsmount.NsMount1.conf');
const DENIED = 'org.freedesktop.DBus.Error.AccessDenied';

let dir: string;
let bus: PrivateBus;
let service: dbus.MessageBus;
let client: dbus.MessageBus;
const reached: string[] = [];

test.before(async () => {
  if (rootSkipReason) return;
  dir = mkdtempSync(join(tmpdir(), 'nsmountd-bus-policy-'));
  // Derived from the distribution's system.conf: its default deny for method
  // calls is what our allowances are measured against.
  bus = await startPrivateSystemBus({ runtimeDir: dir, policyFiles: [POLICY] });
  service = connect(bus.address);
  // Stand-in for nsmountd: answers every call with the number of fds it got.
  service.addMethodHandler((msg: dbus.Message) => {
    const fds = msg.body.filter((v): v is number => typeof v === 'number');
    fds.forEach((fd) => closeSync(fd));
    reached.push(`${msg.interface}.${msg.member}`);
    service.send(dbus.Message.newMethodReturn(msg, 'u', [fds.length]));
    return true;
  });
  const owned = await service.requestName(NAME, dbus.NameFlag.DO_NOT_QUEUE);
  if (owned !== dbus.RequestNameReply.PRIMARY_OWNER) throw new Error(`could not own ${NAME}: ${owned}`);
  client = connect(bus.address);
});

test.after.always(async () => {
  client?.disconnect();
  service?.disconnect();
  await bus?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const PEER = 'org.freedesktop.DBus.Peer';
const INTROSPECTABLE = 'org.freedesktop.DBus.Introspectable';
const PROPERTIES = 'org.freedesktop.DBus.Properties';

const fdLimit = test.macro({
  async exec(t: ExecutionContext, spec: CallSpec, expected: 'allowed' | 'denied') {
    const before = reached.length;
    const outcome = await callWithFds(client, spec);
    if (expected === 'allowed') {
      t.is(outcome, `delivered:${spec.fds}`);
    } else {
      t.is(outcome, DENIED);
      t.is(reached.length, before, 'the refused call must not reach the service');
    }
  },
  title(_provided, spec: CallSpec, expected: string) {
    return `${spec.iface ?? '(no interface)'}.${spec.member} with ${spec.fds} fd(s) is ${expected}`;
  },
});

// Serial on purpose: dbus-next hands every fd already received to the next
// message it parses, so a pipelined fd-less call between two fd-carrying
// ones makes the stand-in service throw "No FDs available". The bus, which
// is what this file tests, is not involved in that.
const m = (member: string, fds: number): CallSpec => ({ iface: MANAGER, member, fds });

rootTest.serial(fdLimit, m('AllocateUserNamespace', 0), 'allowed');
rootTest.serial(fdLimit, m('AllocateUserNamespace', 1), 'denied');
rootTest.serial(fdLimit, m('ListUserNamespaces', 0), 'allowed');
rootTest.serial(fdLimit, m('ListUserNamespaces', 1), 'denied');
rootTest.serial(fdLimit, m('ListMounts', 0), 'allowed');
rootTest.serial(fdLimit, m('ListMounts', 1), 'denied');
rootTest.serial(fdLimit, m('MakeDirectory', 1), 'allowed');
rootTest.serial(fdLimit, m('MakeDirectory', 2), 'denied');
rootTest.serial(fdLimit, m('IdmapDirectory', 3), 'allowed');
rootTest.serial(fdLimit, m('IdmapDirectory', 4), 'denied');
rootTest.serial(fdLimit, m('Unmount', 1), 'allowed');
rootTest.serial(fdLimit, m('Unmount', 2), 'denied');
rootTest.serial(fdLimit, m('Mount', 3), 'allowed');
rootTest.serial(fdLimit, m('Mount', 4), 'denied');
// Members nsmountd does not have still reach it (it answers UnknownMethod), without fds.
rootTest.serial(fdLimit, m('NoSuchMember', 0), 'allowed');
rootTest.serial(fdLimit, m('NoSuchMember', 1), 'denied');
rootTest.serial(fdLimit, { iface: PEER, member: 'Ping', fds: 0 }, 'allowed');
rootTest.serial(fdLimit, { iface: PEER, member: 'Ping', fds: 1 }, 'denied');
rootTest.serial(fdLimit, { iface: INTROSPECTABLE, member: 'Introspect', fds: 1 }, 'denied');
rootTest.serial(fdLimit, { iface: PROPERTIES, member: 'GetAll', fds: 1 }, 'denied');
// A same-named member on another interface must not borrow Mount's allowance.
rootTest.serial(fdLimit, { iface: 'org.example.Other', member: 'Mount', fds: 1 }, 'denied');
// Without an interface header only the fd-less rule can match.
rootTest.serial(fdLimit, { iface: undefined, member: 'Mount', fds: 1 }, 'denied');
rootTest.serial(fdLimit, { iface: undefined, member: 'Mount', fds: 0 }, 'allowed');

rootTest('root may own the name: a second root connection is only told it exists', async (t) => {
  // The service already owns it; DO_NOT_QUEUE gives EXISTS (3), not AccessDenied:
  // root is allowed to own, so this cannot be confused with a policy refusal.
  t.is(await tryOwn(client), `owned:${dbus.RequestNameReply.EXISTS}`);
});

rootTest('an unprivileged user may call nsmountd within the fd limits but not own its name', async (t) => {
  const child = resolve(__dirname, 'bus-client-child.js');
  const { stdout } = await promisify(execFile)(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, child, bus.address],
    { timeout: 30_000 },
  );
  t.deepEqual(JSON.parse(stdout), { uid: 65534, own: DENIED, oneFd: 'delivered:1', twoFds: DENIED });
});
