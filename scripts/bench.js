#!/usr/bin/env node
// `npm run bench`: runs dist/bench/run.js as root inside a private mount
// namespace (test users bind-mounted into /etc, TMPDIR on a fresh tmpfs so
// registry writes cost what they cost in /run), leaving the host untouched.
'use strict';
const { spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const IN_NAMESPACE = 'NSMOUNTD_TEST_NAMESPACE';
const args = process.argv.slice(2);

if (process.getuid() !== 0) {
  console.error('npm run bench needs root: it starts a private system bus, polkitd and nsmountd, and creates namespaces and mounts.');
  process.exit(1);
}

if (process.env[IN_NAMESPACE] !== '1') {
  const res = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, __filename, ...args], {
    stdio: 'inherit',
    env: { ...process.env, [IN_NAMESPACE]: '1' },
  });
  process.exit(res.status ?? 1);
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-bench-'));
execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'nsmountd-bench', scratch]);
const users = require(path.join(ROOT, 'dist/test/helpers/users.js'));
users.installTestUsers({ workDir: fs.mkdtempSync(path.join(scratch, 'users-')) });
const res = spawnSync(process.execPath, [path.join(ROOT, 'dist/bench/run.js'), ...args], {
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: scratch },
});
spawnSync('umount', ['--lazy', scratch]);
fs.rmSync(scratch, { recursive: true, force: true });
process.exit(res.status ?? 1);
