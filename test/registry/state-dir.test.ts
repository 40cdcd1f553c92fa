// The state directory is the daemon's alone: made 0700 with files 0600,
// and refused when someone else could write it.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { NSMOUNTD_BIN } from '../helpers/paths';
import { startTestStack } from '../helpers/stack';
import { callAs } from '../helpers/call';
import { alice } from '../helpers/users';
import { ensurePrivateStateDirectory, UnsafeStateDirectory } from '../../src/registry/state-dir';

const dirs: string[] = [];
test.after.always(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
function scratch(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-statedir-'));
  dirs.push(dir);
  return dir;
}
const modeOf = (p: string) => fs.statSync(p).mode & 0o7777;

test('a missing state directory is created 0700', (t) => {
  const dir = path.join(scratch(), 'state');
  const umask = process.umask(0);
  try {
    ensurePrivateStateDirectory(dir);
  } finally {
    process.umask(umask);
  }
  t.is(modeOf(dir), 0o700);
});

test('one an older nsmountd left readable by others is tightened, files and all', (t) => {
  const dir = scratch();
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'registry.json'), '{}', { mode: 0o644 });
  ensurePrivateStateDirectory(dir);
  t.is(modeOf(dir), 0o700);
  t.is(modeOf(path.join(dir, 'registry.json')), 0o600);
});

const refused = test.macro({
  exec(t, mode: number, pattern: RegExp) {
    const dir = scratch();
    fs.chmodSync(dir, mode);
    t.throws(() => ensurePrivateStateDirectory(dir), { instanceOf: UnsafeStateDirectory, message: pattern });
    t.is(modeOf(dir), mode, 'left as it was');
  },
  title: (_ = '', mode: number) => `a state directory of mode 0${mode.toString(8)} is refused`,
});
test(refused, 0o777, /writable by its group \(mode 0777\); make it 0700/);
test(refused, 0o1777, /writable by its group/);
test(refused, 0o702, /writable by others \(mode 0702\)/);
test(refused, 0o730, /writable by its group/);

rootTest("another user's directory is refused", (t) => {
  const dir = scratch();
  fs.chmodSync(dir, 0o700);
  fs.chownSync(dir, alice.uid, alice.gid);
  t.throws(() => ensurePrivateStateDirectory(dir), { instanceOf: UnsafeStateDirectory, message: /owned by uid 61001, not by the daemon's uid 0/ });
});

rootTest('the daemon refuses to start on a state directory others can write, saying why', (t) => {
  const dir = scratch();
  fs.chmodSync(dir, 0o777);
  const r = spawnSync(process.execPath, [NSMOUNTD_BIN, '--state-dir', dir, '--address', 'unix:path=/nonexistent'], { encoding: 'utf8', timeout: 20000 });
  t.is(r.status, 1);
  t.regex(r.stderr, /^nsmountd: refusing the state directory: .* is writable by its group \(mode 0777\)/);
  t.deepEqual(fs.readdirSync(dir), [], 'nothing written there');
});

rootTest('a running daemon keeps its state directory 0700 and every file in it 0600', async (t) => {
  const stack = await startTestStack();
  try {
    // A namespace, so that the registry has something to write.
    const r = await callAs(alice, stack.address, 'AllocateUserNamespace', 'sua{sv}', [`statedir`, 65536, {}]);
    t.true(r.ok, JSON.stringify(r));
    t.is(modeOf(stack.stateDir), 0o700);
    const files = fs.readdirSync(stack.stateDir, { withFileTypes: true }).filter((e) => e.isFile());
    t.true(files.length >= 2, files.map((f) => f.name).join(' '));
    for (const file of files) t.is(modeOf(path.join(stack.stateDir, file.name)), 0o600, file.name);
  } finally {
    await stack.stop();
  }
});
