#!/usr/bin/env node
// Removes exactly what install-system.js installed, as listed in its
// manifest. Honours the same DESTDIR and PREFIX:
//
//   npm run uninstall-system                      # PREFIX=/usr/local, DESTDIR=""
//   PREFIX=/usr DESTDIR=/tmp/stage npm run uninstall-system
//
// A configuration file the administrator changed since install is kept, as
// dpkg does with conffiles. Directories are removed only if install created
// them and they are empty now.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const DEFAULT_PREFIX = '/usr/local';
const MANIFEST_NAME = 'install-manifest.json';

/** Where install-system keeps its manifest, without DESTDIR. */
function manifestPath(prefix) {
  return path.posix.join(prefix, 'lib', 'nsmountd', MANIFEST_NAME);
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function removeIfPresent(file) {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (err) {
    if (err.code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Undoes the install described by the manifest under destdir/prefix.
 * Returns false when there is no manifest (nothing installed there).
 */
function uninstall({ destdir = '', prefix = DEFAULT_PREFIX, log = () => {} } = {}) {
  const root = (p) => path.join(destdir || '/', p);
  const manifestFile = root(manifestPath(prefix));
  if (!fs.existsSync(manifestFile)) return false;
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));

  for (const entry of manifest.files) {
    const target = root(entry.path);
    if (entry.config && fs.existsSync(target) && sha256(target) !== entry.sha256) {
      log(`keeping ${entry.path}: changed since install`);
      continue;
    }
    if (removeIfPresent(target)) log(`removed ${entry.path}`);
  }
  removeIfPresent(manifestFile);
  // Deepest first, so a parent is tried after its children are gone.
  const dirs = [...manifest.directories].sort((a, b) => b.length - a.length);
  for (const dir of dirs) {
    try {
      fs.rmdirSync(root(dir));
    } catch (err) {
      if (err.code !== 'ENOENT' && err.code !== 'ENOTEMPTY') throw err;
    }
  }
  return true;
}

module.exports = { uninstall, manifestPath, sha256, DEFAULT_PREFIX, MANIFEST_NAME };

if (require.main === module) {
  const destdir = process.env.DESTDIR || '';
  const prefix = process.env.PREFIX || DEFAULT_PREFIX;
  try {
    const found = uninstall({ destdir, prefix, log: (line) => console.log(line) });
    if (!found) {
      console.error(`uninstall-system: no ${path.join(destdir || '/', manifestPath(prefix))}; nothing installed there`);
      process.exit(1);
    }
  } catch (err) {
    console.error(`uninstall-system: ${err.message}`);
    process.exit(1);
  }
}
