// scripts/install-system.js and uninstall-system.js, run as `npm run` would,
// into a temporary DESTDIR.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { exampleConfigText } from '../../src/config/example';

const REPO = resolve(__dirname, '../../..');
const run = promisify(execFile);

const dirs: string[] = [];
test.after.always(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function stage(): string {
  const d = mkdtempSync(join(tmpdir(), 'nsmountd-install-'));
  dirs.push(d);
  return d;
}

async function script(name: 'install-system' | 'uninstall-system', destdir: string, prefix?: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, DESTDIR: destdir, NODE: '/usr/bin/node' };
  if (prefix === undefined) delete env.PREFIX;
  else env.PREFIX = prefix;
  return run(process.execPath, [join(REPO, 'scripts', `${name}.js`)], { env, cwd: REPO });
}

/** Every non-directory under root, as absolute paths inside the staged system. */
function tree(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tree(root, join(dir, e.name)) : ['/' + relative(root, join(dir, e.name))],
  );
}

const read = (root: string, p: string) => readFileSync(join(root, p), 'utf8');
const source = (p: string) => readFileSync(join(REPO, p), 'utf8');

test('installs the documented tree under the default prefix /usr/local', async (t) => {
  const root = stage();
  await script('install-system', root);
  const files = new Set(tree(root));
  for (const expected of [
    '/usr/local/lib/nsmountd/package.json',
    '/usr/local/lib/nsmountd/bin/nsmountd',
    '/usr/local/lib/nsmountd/build/libnsmount.so',
    '/usr/local/lib/nsmountd/build/nsmount-run',
    '/usr/local/lib/nsmountd/dist/src/config/load.js',
    '/usr/local/lib/nsmountd/node_modules/dbus-next/package.json',
    '/usr/local/lib/nsmountd/node_modules/usocket/build/Release/uwrap.node',
    '/usr/local/lib/nsmountd/node_modules/smol-toml/package.json',
    '/usr/local/libexec/nsmountd',
    '/usr/local/share/doc/nsmountd/examples/50-nsmountd-untrusted-images.rules.example',
    '/usr/lib/systemd/system/nsmountd.service',
    '/usr/share/dbus-1/system.d/org.nsmount.NsMount1.conf',
    '/usr/share/dbus-1/system-services/org.nsmount.NsMount1.service',
    '/usr/share/polkit-1/actions/org.nsmount.policy',
    '/etc/nsmountd/nsmountd.conf',
  ]) {
    t.true(files.has(expected), `${expected} is installed`);
  }
  if (existsSync(join(REPO, 'dbus/org.nsmount.NsMount1.Manager.xml'))) {
    t.is(read(root, '/usr/share/dbus-1/interfaces/org.nsmount.NsMount1.Manager.xml'), source('dbus/org.nsmount.NsMount1.Manager.xml'));
  }
  // Development-only packages stay behind.
  t.false(files.has('/usr/local/lib/nsmountd/node_modules/ava/package.json'));
  t.false(files.has('/usr/local/lib/nsmountd/node_modules/typescript/package.json'));
  t.false([...files].some((f) => f.startsWith('/usr/local/lib/nsmountd/dist/test/')));
  t.true(existsSync(join(root, 'etc/nsmountd/nsmountd.conf.d')));
});

test('paths in the launcher, unit and activation file name the prefix, not DESTDIR', async (t) => {
  const root = stage();
  await script('install-system', root, '/opt/nsm');
  const unit = read(root, '/usr/lib/systemd/system/nsmountd.service');
  const activation = read(root, '/usr/share/dbus-1/system-services/org.nsmount.NsMount1.service');
  t.regex(unit, /^ExecStart=\/opt\/nsm\/libexec\/nsmountd$/m);
  t.regex(activation, /^Exec=\/opt\/nsm\/libexec\/nsmountd$/m);
  t.is(
    read(root, '/opt/nsm/libexec/nsmountd'),
    "#!/bin/sh\n# Installed by nsmountd's install-system.js.\n" +
      "export MALLOC_ARENA_MAX='2'\n" +
      "exec '/usr/bin/node' '--max-semi-space-size=1' '--expose-gc' '/opt/nsm/lib/nsmountd/bin/nsmountd' \"$@\"\n",
  );
  t.is(statSync(join(root, 'opt/nsm/libexec/nsmountd')).mode & 0o777, 0o755);
  for (const text of [unit, activation]) {
    t.notRegex(text, /@[A-Z_]+@/);
    t.false(text.includes(root));
  }
  // Files that need no substitution are copied as they are.
  t.is(read(root, '/usr/share/dbus-1/system.d/org.nsmount.NsMount1.conf'), source('dbus/org.nsmount.NsMount1.conf'));
  t.is(read(root, '/usr/share/polkit-1/actions/org.nsmount.policy'), source('polkit/org.nsmount.policy'));
  t.is(read(root, '/etc/nsmountd/nsmountd.conf'), exampleConfigText());
});

test('the installed application loads its config, native library and bus library on its own', async (t) => {
  const root = stage();
  await script('install-system', root);
  const app = join(root, 'usr/local/lib/nsmountd');
  // cwd / and no NODE_PATH: every require must resolve inside the installed tree.
  const { stdout } = await run(
    process.execPath,
    [
      '-e',
      `const app = ${JSON.stringify(app)};
       require(app + '/dist/src/native/bindings.js');
       const dbus = require(require.resolve('dbus-next', { paths: [app] }));
       if (!require.resolve('dbus-next', { paths: [app] }).startsWith(app)) throw new Error('resolved outside');
       require(require.resolve('usocket', { paths: [app] }));
       const c = require(app + '/dist/src/config').loadConfig({ file: ${JSON.stringify(join(root, 'etc/nsmountd/nsmountd.conf'))} });
       process.stdout.write(c.daemon.stateDir);`,
    ],
    { cwd: '/', env: { PATH: process.env.PATH } },
  );
  t.is(stdout, '/run/nsmountd');
});

test('the manifest lists every installed file, and uninstall leaves DESTDIR empty', async (t) => {
  const root = stage();
  await script('install-system', root);
  const manifestFile = '/usr/local/lib/nsmountd/install-manifest.json';
  const manifest = JSON.parse(read(root, manifestFile)) as { files: { path: string }[] };
  t.deepEqual([...manifest.files.map((f) => f.path), manifestFile].sort(), tree(root).sort());
  await script('uninstall-system', root);
  t.deepEqual(readdirSync(root), []);
});

test('uninstall keeps directories and files it did not create', async (t) => {
  const root = stage();
  mkdirSync(join(root, 'usr/share/dbus-1/system.d'), { recursive: true });
  writeFileSync(join(root, 'usr/share/dbus-1/system.d/other.conf'), '<busconfig/>');
  await script('install-system', root);
  await script('uninstall-system', root);
  t.deepEqual(tree(root), ['/usr/share/dbus-1/system.d/other.conf']);
});

test('an existing or edited configuration is never overwritten or removed', async (t) => {
  const root = stage();
  await script('install-system', root);
  const conf = join(root, 'etc/nsmountd/nsmountd.conf');
  writeFileSync(conf, '[pool]\nquota_per_uid = 3\n');
  // Reinstalling replaces the previous install but not the administrator's file.
  await script('install-system', root);
  t.is(readFileSync(conf, 'utf8'), '[pool]\nquota_per_uid = 3\n');
  await script('uninstall-system', root);
  t.deepEqual(tree(root), ['/etc/nsmountd/nsmountd.conf']);
});

test('uninstall without an install says so and fails', async (t) => {
  const root = stage();
  const err = await t.throwsAsync(script('uninstall-system', root));
  t.regex((err as Error & { stderr: string }).stderr, /nothing installed there/);
});
