// systemd/nsmountd.service: systemd itself must accept it, and it must not
// pick up any setting that would hide its mounts in a private namespace.
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DAEMON_ENVIRONMENT } from '../../src/daemon/node-options';

const UNIT = resolve(__dirname, '../../../systemd/nsmountd.service');
const text = readFileSync(UNIT, 'utf8');

/** key -> values of the [Service] section, comments dropped. */
function serviceSettings(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== 'Service' || eq < 0) continue;
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const settings = serviceSettings(text);

test('systemd-analyze verify accepts the unit without a warning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nsmountd-unit-'));
  try {
    // verify checks that ExecStart exists and is executable.
    const libexec = join(dir, 'libexec');
    mkdirSync(libexec);
    writeFileSync(join(libexec, 'nsmountd'), '#!/bin/sh\n');
    chmodSync(join(libexec, 'nsmountd'), 0o755);
    const unit = join(dir, 'nsmountd.service');
    writeFileSync(unit, text.replaceAll('@LIBEXECDIR@', libexec));
    const { stdout, stderr } = await promisify(execFile)('systemd-analyze', ['verify', '--man=no', unit]);
    t.is(stderr, '');
    t.is(stdout, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the install-time placeholder is the only path to the daemon', (t) => {
  t.deepEqual(settings.get('ExecStart'), ['@LIBEXECDIR@/nsmountd']);
});

test('it is a D-Bus service on the name its activation file names', (t) => {
  t.deepEqual(settings.get('Type'), ['dbus']);
  t.deepEqual(settings.get('BusName'), ['org.nsmount.NsMount1']);
  const activation = readFileSync(resolve(__dirname, '../../../dbus/org.nsmount.NsMount1.service'), 'utf8');
  t.regex(activation, /^SystemdService=nsmountd\.service$/m);
});

test('the unit sets the environment the launcher exports', (t) => {
  const expected = Object.entries(DAEMON_ENVIRONMENT).map(([key, value]) => `${key}=${value}`);
  t.deepEqual(settings.get('Environment'), expected);
});

test('state in /run/nsmountd survives restarts and idle exits', (t) => {
  t.deepEqual(settings.get('RuntimeDirectory'), ['nsmountd']);
  t.deepEqual(settings.get('RuntimeDirectoryPreserve'), ['yes']);
});

// Each of these makes systemd run the service in a mount namespace of its
// own (or, for PrivateUsers, a user namespace), where the mounts it makes
// would be invisible to, or impossible for, its callers.
const MOUNT_NAMESPACE_SETTINGS = [
  'PrivateTmp', 'PrivateDevices', 'PrivateMounts', 'ProtectSystem', 'ProtectHome',
  'ProtectKernelTunables', 'ProtectKernelModules', 'ProtectKernelLogs', 'ProtectControlGroups',
  'ProtectProc', 'ProcSubset', 'MountFlags', 'ReadOnlyPaths', 'ReadWritePaths', 'InaccessiblePaths',
  'BindPaths', 'BindReadOnlyPaths', 'TemporaryFileSystem', 'RootDirectory', 'RootImage', 'MountAPIVFS',
  'DynamicUser', 'PrivateUsers',
];

const absent = test.macro({
  exec(t, key: string) {
    t.false(settings.has(key), `${key}= must not be set`);
  },
  title: (_p, key: string) => `${key}= is not set`,
});

for (const key of [...MOUNT_NAMESPACE_SETTINGS, 'MemoryDenyWriteExecute', 'UMask']) test(absent, key);

test('namespace creation stays allowed for user and mount namespaces', (t) => {
  const allowed = (settings.get('RestrictNamespaces') ?? []).join(' ').split(/\s+/);
  t.true(allowed.includes('user'));
  t.true(allowed.includes('mnt'));
});

test('the capability bounding set is exactly what the operations need', (t) => {
  const caps = (settings.get('CapabilityBoundingSet') ?? []).join(' ').split(/\s+/).sort();
  t.deepEqual(caps, [
    'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER',
    'CAP_SETGID', 'CAP_SETUID', 'CAP_SYS_ADMIN', 'CAP_SYS_CHROOT',
  ]);
});

test('loop devices stay reachable under the closed device policy ProtectClock implies', (t) => {
  t.deepEqual(settings.get('ProtectClock'), ['yes']);
  const devices = settings.get('DeviceAllow') ?? [];
  t.true(devices.includes('/dev/loop-control rw'));
  t.true(devices.includes('block-loop rw'));
});
