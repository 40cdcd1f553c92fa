#!/usr/bin/env node
// Installs nsmountd as a system service. Run `npm run build` first.
//
//   npm run install-system                        # PREFIX=/usr/local
//   PREFIX=/usr DESTDIR=/tmp/stage npm run install-system
//
// PREFIX (default /usr/local, the place for software not managed by the
// package manager) holds the program:
//   $PREFIX/lib/nsmountd/        dist/src, bin/, build/libnsmount.so, build/nsmount-run,
//                                production node_modules, package.json
//   $PREFIX/libexec/nsmountd     the daemon launcher (what D-Bus and systemd run)
//   $PREFIX/bin/nsmountctl       the client launcher
//   $PREFIX/share/doc/nsmountd/examples/   example polkit rules
// The files the bus, polkit and systemd read go to the directories those
// read whatever PREFIX is, because dbus-daemon and polkitd do not look
// under /usr/local (each can be overridden by the variable in brackets):
//   /usr/lib/systemd/system/nsmountd.service                  [SYSTEMD_UNIT_DIR]
//   /usr/share/dbus-1/system.d/org.nsmount.NsMount1.conf      [DBUS_DATA_DIR]
//   /usr/share/dbus-1/system-services/org.nsmount.NsMount1.service
//   /usr/share/dbus-1/interfaces/org.nsmount.NsMount1.Manager.xml
//   /usr/share/polkit-1/actions/org.nsmount.policy             [POLKIT_ACTIONS_DIR]
//   /etc/nsmountd/nsmountd.conf, only if absent                [SYSCONFDIR]
// DESTDIR is prepended to all of them (staging for packages); paths written
// into the unit and activation files never include it.
//
// A manifest in $PREFIX/lib/nsmountd lists what was installed, so that
// uninstall-system.js removes exactly that. Installing again first removes
// the previous install.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { uninstall, manifestPath, sha256, DEFAULT_PREFIX } = require('./uninstall-system');

const REPO = path.resolve(__dirname, '..');

function layout(env) {
  const prefix = env.PREFIX || DEFAULT_PREFIX;
  const dbus = env.DBUS_DATA_DIR || '/usr/share/dbus-1';
  return {
    destdir: env.DESTDIR || '',
    prefix,
    appDir: path.posix.join(prefix, 'lib', 'nsmountd'),
    libexecDir: path.posix.join(prefix, 'libexec'),
    binDir: path.posix.join(prefix, 'bin'),
    docDir: path.posix.join(prefix, 'share', 'doc', 'nsmountd'),
    unitDir: env.SYSTEMD_UNIT_DIR || '/usr/lib/systemd/system',
    busPolicyDir: path.posix.join(dbus, 'system.d'),
    busServiceDir: path.posix.join(dbus, 'system-services'),
    busInterfaceDir: path.posix.join(dbus, 'interfaces'),
    polkitActionsDir: env.POLKIT_ACTIONS_DIR || '/usr/share/polkit-1/actions',
    configDir: path.posix.join(env.SYSCONFDIR || '/etc', 'nsmountd'),
    // Absolute, so the launchers work under systemd's minimal PATH.
    node: env.NODE || process.execPath,
  };
}

/** Records what it creates, in the form the manifest keeps (paths without DESTDIR). */
class Installer {
  constructor(destdir) {
    this.destdir = destdir;
    this.files = [];
    this.directories = [];
  }

  real(p) {
    return path.join(this.destdir || '/', p);
  }

  mkdir(dir) {
    if (fs.existsSync(this.real(dir))) return;
    if (path.posix.dirname(dir) === dir) {
      // A DESTDIR that does not exist yet: the staging root is not ours to remove.
      fs.mkdirSync(this.real(dir), { recursive: true });
      return;
    }
    this.mkdir(path.posix.dirname(dir));
    fs.mkdirSync(this.real(dir), { mode: 0o755 });
    this.directories.push(dir);
  }

  write(target, content, { mode = 0o644, config = false } = {}) {
    this.mkdir(path.posix.dirname(target));
    fs.writeFileSync(this.real(target), content, { mode });
    fs.chmodSync(this.real(target), mode); // writeFileSync's mode is subject to umask
    this.files.push(config ? { path: target, config: true, sha256: sha256(this.real(target)) } : { path: target });
  }

  copyFile(source, target, mode) {
    this.mkdir(path.posix.dirname(target));
    fs.copyFileSync(source, this.real(target));
    fs.chmodSync(this.real(target), mode ?? (fs.statSync(source).mode & 0o7777));
    this.files.push({ path: target });
  }

  /** Copies a tree of regular files and symlinks; skip(relativePath) prunes. */
  copyTree(source, target, skip = () => false, rel = '') {
    this.mkdir(target);
    for (const entry of fs.readdirSync(path.join(source, rel), { withFileTypes: true })) {
      const r = path.posix.join(rel, entry.name);
      if (skip(r)) continue;
      const from = path.join(source, r);
      const to = path.posix.join(target, r);
      if (entry.isDirectory()) {
        this.mkdir(to);
        this.copyTree(source, target, skip, r);
      } else if (entry.isSymbolicLink()) {
        fs.symlinkSync(fs.readlinkSync(from), this.real(to));
        this.files.push({ path: to });
      } else if (entry.isFile()) {
        this.copyFile(from, to);
      }
    }
  }
}

/** Fills in @LIBEXECDIR@ and friends; a placeholder left over is a bug here. */
function substitute(text, values, name) {
  const out = text.replace(/@([A-Z_]+)@/g, (whole, key) => {
    if (!(key in values)) throw new Error(`${name}: unknown placeholder ${whole}`);
    return values[key];
  });
  return out;
}

function launcher(node, script, { nodeOptions = [], environment = {} } = {}) {
  const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
  const words = [node, ...nodeOptions, script].map(quote).join(' ');
  const exports = Object.entries(environment).map(([key, value]) => `export ${key}=${quote(value)}\n`).join('');
  return `#!/bin/sh\n# Installed by nsmountd's install-system.js.\n${exports}exec ${words} "$@"\n`;
}

/** Directories of the production dependencies, relative to the repo (node_modules/...). */
function productionPackages() {
  let out;
  try {
    out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    // npm ls exits non-zero on problems it still lists through (extraneous packages).
    out = err.stdout || '';
  }
  const dirs = out
    .split('\n')
    .filter((line) => line.startsWith(REPO + path.sep))
    .map((line) => path.relative(REPO, line));
  if (dirs.length === 0) throw new Error('npm ls found no production dependencies; run npm install first');
  return dirs;
}

function install(env = process.env, log = () => {}) {
  const L = layout(env);
  for (const needed of ['dist/src', 'build/libnsmount.so', 'build/nsmount-run', 'bin/nsmountd']) {
    if (!fs.existsSync(path.join(REPO, needed))) throw new Error(`${needed} is missing; run "npm run build" first`);
  }
  if (uninstall({ destdir: L.destdir, prefix: L.prefix })) log('removed the previous install');

  const I = new Installer(L.destdir);
  const values = { LIBEXECDIR: L.libexecDir, PREFIX: L.prefix, BINDIR: L.binDir };

  // The application tree, laid out as in the repo so relative requires hold.
  I.copyFile(path.join(REPO, 'package.json'), path.posix.join(L.appDir, 'package.json'), 0o644);
  I.copyTree(path.join(REPO, 'dist', 'src'), path.posix.join(L.appDir, 'dist', 'src'));
  I.copyFile(path.join(REPO, 'build', 'libnsmount.so'), path.posix.join(L.appDir, 'build', 'libnsmount.so'), 0o755);
  // The program nsmountctl run and import-tar exec to start commands in a user namespace.
  I.copyFile(path.join(REPO, 'build', 'nsmount-run'), path.posix.join(L.appDir, 'build', 'nsmount-run'), 0o755);
  I.copyTree(path.join(REPO, 'bin'), path.posix.join(L.appDir, 'bin'));
  for (const pkg of productionPackages()) {
    // Nested node_modules are listed by npm ls on their own when they are production ones.
    I.copyTree(path.join(REPO, pkg), path.posix.join(L.appDir, pkg), (rel) => rel === 'node_modules');
  }

  // The daemon's V8 options and environment (why: src/daemon/node-options.ts).
  const { DAEMON_NODE_OPTIONS, DAEMON_ENVIRONMENT } = require(path.join(REPO, 'dist/src/daemon/node-options.js'));
  const daemon = launcher(L.node, path.posix.join(L.appDir, 'bin', 'nsmountd'), { nodeOptions: DAEMON_NODE_OPTIONS, environment: DAEMON_ENVIRONMENT });
  I.write(path.posix.join(L.libexecDir, 'nsmountd'), daemon, { mode: 0o755 });
  if (fs.existsSync(path.join(REPO, 'bin', 'nsmountctl'))) {
    I.write(path.posix.join(L.binDir, 'nsmountctl'), launcher(L.node, path.posix.join(L.appDir, 'bin', 'nsmountctl')), { mode: 0o755 });
  } else {
    log('bin/nsmountctl not built yet: no nsmountctl launcher installed');
  }

  const read = (rel) => fs.readFileSync(path.join(REPO, rel), 'utf8');
  I.write(path.posix.join(L.unitDir, 'nsmountd.service'), substitute(read('systemd/nsmountd.service'), values, 'nsmountd.service'));
  I.write(path.posix.join(L.busPolicyDir, 'org.nsmount.NsMount1.conf'), read('dbus/org.nsmount.NsMount1.conf'));
  I.write(
    path.posix.join(L.busServiceDir, 'org.nsmount.NsMount1.service'),
    substitute(read('dbus/org.nsmount.NsMount1.service'), values, 'org.nsmount.NsMount1.service'),
  );
  if (fs.existsSync(path.join(REPO, 'dbus', 'org.nsmount.NsMount1.Manager.xml'))) {
    I.write(path.posix.join(L.busInterfaceDir, 'org.nsmount.NsMount1.Manager.xml'), read('dbus/org.nsmount.NsMount1.Manager.xml'));
  }
  I.write(path.posix.join(L.polkitActionsDir, 'org.nsmount.policy'), read('polkit/org.nsmount.policy'));
  for (const name of fs.readdirSync(path.join(REPO, 'polkit')).filter((n) => n.endsWith('.rules.example'))) {
    I.write(path.posix.join(L.docDir, 'examples', name), read(path.join('polkit', name)));
  }

  // Never overwrite the administrator's configuration.
  const configFile = path.posix.join(L.configDir, 'nsmountd.conf');
  if (fs.existsSync(I.real(configFile))) {
    log(`keeping existing ${configFile}`);
  } else {
    const { exampleConfigText } = require(path.join(REPO, 'dist', 'src', 'config', 'example.js'));
    I.write(configFile, exampleConfigText(), { config: true });
  }
  I.mkdir(path.posix.join(L.configDir, 'nsmountd.conf.d'));

  const manifest = manifestPath(L.prefix);
  I.mkdir(path.posix.dirname(manifest));
  fs.writeFileSync(
    I.real(manifest),
    JSON.stringify({ prefix: L.prefix, files: I.files, directories: I.directories }, null, 1) + '\n',
    { mode: 0o644 },
  );
  log(`installed ${I.files.length} files under ${L.destdir || '/'} (prefix ${L.prefix})`);
  return { layout: L, manifest };
}

module.exports = { install, layout };

if (require.main === module) {
  try {
    const { layout: L } = install(process.env, (line) => console.log(line));
    if (!L.destdir) {
      console.log('dbus-daemon and polkitd pick up the new files by themselves;');
      console.log('under systemd, run "systemctl daemon-reload" to see nsmountd.service.');
    }
  } catch (err) {
    console.error(`install-system: ${err.message}`);
    process.exit(1);
  }
}
