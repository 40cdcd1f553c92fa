import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPrivateSystemBus, type PrivateBus } from '../../src/stack/private-bus';
import { connectBus, callBus, nameHasOwner, supportsUnixFd, waitForName } from '../../src/stack/bus-connection';
import { runAsUser } from '../helpers/as-user';
import { CALL_CLIENT, FIXTURES, PACKAGE_ROOT } from '../helpers/paths';
import { rootSkipReason, rootTest } from '../helpers/root';
import { removeTree } from '../helpers/cleanup';
import { alice } from '../helpers/users';
import { isAlive } from '../helpers/processes';

const TEST_NAME = 'org.nsmount.StackTest';
let dir: string;
let bus: PrivateBus;

test.before(async () => {
  if (rootSkipReason) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-bus-test-'));
  fs.chmodSync(dir, 0o755);
  bus = await startPrivateSystemBus({
    runtimeDir: path.join(dir, 'run'),
    policyFiles: [path.join(FIXTURES, 'org.nsmount.StackTest.conf')],
  });
});

test.after.always(async () => {
  await bus?.stop();
  if (dir) removeTree(dir);
});

rootTest('listens on a socket inside runtimeDir and negotiates fd passing', async (t) => {
  t.regex(bus.address, new RegExp(`^unix:path=${dir}/run/`));
  const conn = await connectBus(bus.address);
  t.teardown(() => conn.disconnect());
  t.true(supportsUnixFd(conn));
  t.regex((conn as unknown as { name: string }).name, /^:1\./);
});

rootTest('root may own the name its policy file grants, an unprivileged user may not', async (t) => {
  const conn = await connectBus(bus.address);
  t.teardown(() => conn.disconnect());
  t.is(await conn.requestName(TEST_NAME, 0), 1);
  t.true(await nameHasOwner(conn, TEST_NAME));

  const script = `
    const { connectBus } = require(${JSON.stringify(path.join(PACKAGE_ROOT, 'dist/src/stack/bus-connection.js'))});
    connectBus(process.argv[1]).then((b) => b.requestName('org.nsmount.StackTest.Activated', 0))
      .then((r) => { console.log('owned', r); process.exit(0); }, (e) => { console.log(e.type); process.exit(0); });`;
  const res = await runAsUser(alice, [process.execPath, '-e', script, bus.address]);
  t.is(res.stdout.trim(), 'org.freedesktop.DBus.Error.AccessDenied', res.stderr);
});

rootTest('the default system policy still denies calls to unlisted names', async (t) => {
  const res = await runAsUser(alice, [
    process.execPath, CALL_CLIENT, '--address', bus.address,
    '--destination', 'org.freedesktop.PolicyKit1', '--path', '/', '--interface', 'org.example.Nothing', '--member', 'X',
  ]);
  // PolicyKit1's policy lets anyone send to it; the name has no owner here, so the bus says so.
  t.is(JSON.parse(res.stdout).name, 'org.freedesktop.DBus.Error.ServiceUnknown', res.stderr);

  const denied = await runAsUser(alice, [
    process.execPath, CALL_CLIENT, '--address', bus.address,
    '--destination', 'org.freedesktop.DBus', '--path', '/org/freedesktop/DBus', '--interface', 'org.freedesktop.DBus',
    '--member', 'UpdateActivationEnvironment', '--signature', 'a{ss}', '--body', '[{}]',
  ]);
  t.is(JSON.parse(denied.stdout).name, 'org.freedesktop.DBus.Error.AccessDenied', denied.stderr);
});

rootTest('bus activation runs a service as its User= through the launch helper; stop() ends both', async (t) => {
  const name = 'org.nsmount.StackTest.Activated';
  const servicesDir = path.join(dir, 'services');
  fs.mkdirSync(servicesDir, { mode: 0o755 });
  const other = await startPrivateSystemBus({
    runtimeDir: path.join(dir, 'run2'),
    policyFiles: [path.join(FIXTURES, 'org.nsmount.StackTest.conf')],
    serviceDirs: [servicesDir],
  });
  t.teardown(() => other.stop());
  // The launch helper clears the environment: the address goes on the Exec= line.
  fs.writeFileSync(
    path.join(servicesDir, `${name}.service`),
    `[D-BUS Service]\nName=${name}\nExec=${process.execPath} ${path.join(PACKAGE_ROOT, 'dist/test/clients/own-name.js')} --address ${other.address.split(',')[0]} --name ${name}\nUser=root\n`,
  );
  const conn = await connectBus(other.address);
  conn.on('error', () => {});
  const [started] = await callBus(conn, 'StartServiceByName', 'su', [name, 0]);
  t.is(started, 1); // DBUS_START_REPLY_SUCCESS
  await waitForName(conn, name, { timeoutMs: 5000 });
  const [uid] = await callBus(conn, 'GetConnectionUnixUser', 's', [name]);
  const [servicePid] = (await callBus(conn, 'GetConnectionUnixProcessID', 's', [name])) as [number];
  t.is(uid, 0);
  t.true(other.logs.some((l) => l.includes('using servicehelper')), other.logs.join('\n'));
  conn.disconnect();

  await other.stop();
  t.false(isAlive(other.pid), 'dbus-daemon survived stop()');
  t.false(isAlive(servicePid), 'the activated service survived stop()');
});

rootTest('an early exit rejects with dbus-daemon\'s complaint', async (t) => {
  // Longer than sun_path: dbus-daemon cannot listen and exits.
  const runtimeDir = path.join(dir, 'x'.repeat(120));
  await t.throwsAsync(startPrivateSystemBus({ runtimeDir, policyFiles: [] }), {
    message: /dbus-daemon did not start[\s\S]*exited[\s\S]*(too long|Failed)/,
  });
});

rootTest('a broken policy file fails the start instead of being skipped', async (t) => {
  const bad = path.join(dir, 'bad-policy.conf');
  fs.writeFileSync(bad, '<busconfig><policy context="default">');
  await t.throwsAsync(startPrivateSystemBus({ runtimeDir: path.join(dir, 'run3'), policyFiles: [bad] }), {
    message: /invalid[\s\S]*bad-policy\.conf/,
  });
});
