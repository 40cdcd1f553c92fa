import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { NSMOUNTD_BIN } from '../helpers/paths';
import { alice } from '../helpers/users';

const run = (args: string[], opts: { asUser?: typeof alice } = {}) => {
  const argv = opts.asUser
    ? ['setpriv', '--reuid', String(opts.asUser.uid), '--regid', String(opts.asUser.gid), '--clear-groups', '--', process.execPath, NSMOUNTD_BIN, ...args]
    : [process.execPath, NSMOUNTD_BIN, ...args];
  return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 20000 });
};

test('--version prints the package version', (t) => {
  const r = run(['--version']);
  t.is(r.status, 0);
  const { version } = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string };
  t.is(r.stdout.trim(), `nsmountd ${version}`);
});

test('--help documents every option', (t) => {
  const r = run(['--help']);
  t.is(r.status, 0);
  for (const option of ['--address', '--state-dir', '--config', '--log-level', '--embedded']) t.true(r.stdout.includes(option), option);
});

const usageErrors = test.macro({
  exec(t, args: string[], pattern: RegExp) {
    const r = run(args);
    t.is(r.status, 2);
    t.regex(r.stderr, pattern);
    t.false(r.stderr.includes('    at '), 'no stack trace');
  },
  title: (title) => `usage error: ${title}`,
});

test('unknown flag', usageErrors, ['--frobnicate'], /nsmountd: .*frobnicate/);
test('flag missing its value', usageErrors, ['--address'], /nsmountd: .*address/);
test('positional argument', usageErrors, ['extra'], /nsmountd: .*extra/);

rootTest('an unprivileged user is told why root is needed', (t) => {
  const r = run(['--address', 'unix:path=/nonexistent'], { asUser: alice });
  t.is(r.status, 1);
  t.regex(r.stderr, /^nsmountd: must run as root: .*user namespaces/);
});

rootTest('a bad configuration stops start-up naming file, line and key', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-cfg-'));
  const file = path.join(dir, 'nsmountd.conf');
  fs.writeFileSync(file, '[pool]\n\nquota_per_uid = 0\n');
  const r = run(['--config', file, '--state-dir', path.join(dir, 'state'), '--address', 'unix:path=/nonexistent']);
  t.is(r.status, 1);
  t.regex(r.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}:3: pool\\.quota_per_uid`));
});

rootTest('an unreachable bus address is a clear error', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-addr-'));
  const r = run(['--state-dir', path.join(dir, 'state'), '--address', `unix:path=${dir}/missing`]);
  t.is(r.status, 1);
  t.regex(r.stderr, /nsmountd: cannot connect to the bus at unix:path=.*missing/);
  t.false(r.stderr.includes('    at '));
});
