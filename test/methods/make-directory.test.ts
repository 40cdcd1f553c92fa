import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootSerial, rootSkipReason, rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v, type CallResult } from '../helpers/call';
import { removeTree } from '../helpers/cleanup';
import { alice, bob } from '../helpers/users';
import { makeWorkDir, ownedDir } from '../helpers/work-dirs';

const ERR = 'org.nsmount.NsMount1.Error.';
const FOREIGN_ROOT = 2147352576;
let work: string;
let aliceDir: string;
let bobDir: string;

test.after.always(async () => {
  if (work) removeTree(work);
});
const stack = useTestStack();
test.before(async () => {
  if (rootSkipReason) return;
  work = makeWorkDir('mkdir');
  aliceDir = ownedDir(work, 'alice', alice);
  bobDir = ownedDir(work, 'bob', bob);
});

function expectOk(t: ExecutionContext, r: CallResult): Extract<CallResult, { ok: true }> {
  if (!r.ok) t.fail(`${r.name}: ${r.message}`);
  return r as Extract<CallResult, { ok: true }>;
}

const makeDirectory = (user: typeof alice | 'root', parent: string, name: string, options: object = {}, then?: string) =>
  callAs(user, stack.address, 'MakeDirectory', 'hsa{sv}', [{ $fd: parent, mode: 'path-dir' }, name, options], { then });

rootTest.serial('a user gets a foreign-owned directory in a directory she owns, and an O_DIRECTORY fd of it', async (t) => {
  // The fd refers to the new directory: the shell lists it through the fd.
  const r = expectOk(t, await makeDirectory(alice, aliceDir, 'tree', {}, 'stat -c "%u %g %a" /proc/self/fd/$FD0/.; ls -A /proc/self/fd/$FD0/ | wc -l'));
  const made = path.join(aliceDir, 'tree');
  const st = fs.statSync(made);
  t.is(st.uid, FOREIGN_ROOT);
  t.is(st.gid, FOREIGN_ROOT);
  t.is(st.mode & 0o7777, 0o755);
  t.is(r.fds[0].stat?.ino, st.ino);
  t.is(r.fds[0].readlink, made);
  t.is(r.then?.stdout, `${FOREIGN_ROOT} ${FOREIGN_ROOT} 755\n0\n`, r.then?.stderr);
  // Nothing but the requested name appeared (no temporary name left behind).
  t.deepEqual(fs.readdirSync(aliceDir), ['tree']);
});

rootTest.serial('Mode is masked with 0775', async (t) => {
  expectOk(t, await makeDirectory(alice, aliceDir, 'masked', { Mode: v('u', 0o7777) }));
  t.is(fs.statSync(path.join(aliceDir, 'masked')).mode & 0o7777, 0o775);
  expectOk(t, await makeDirectory(alice, aliceDir, 'private', { Mode: v('u', 0o700) }));
  t.is(fs.statSync(path.join(aliceDir, 'private')).mode & 0o7777, 0o700);
});

rootTest.serial('an existing name gives Exists and leaves the directory as it was', async (t) => {
  fs.writeFileSync(path.join(aliceDir, 'taken'), 'mine');
  const before = fs.readdirSync(aliceDir).sort();
  const r = await makeDirectory(alice, aliceDir, 'taken');
  t.false(r.ok);
  if (!r.ok) {
    t.is(r.name, ERR + 'Exists');
    t.regex(r.message, /"taken" already exists/);
  }
  t.deepEqual(fs.readdirSync(aliceDir).sort(), before);
  t.is(fs.readFileSync(path.join(aliceDir, 'taken'), 'utf8'), 'mine');
});

rootTest.serial('root may create anywhere', async (t) => {
  expectOk(t, await makeDirectory('root', bobDir, 'by-root'));
  t.is(fs.statSync(path.join(bobDir, 'by-root')).uid, FOREIGN_ROOT);
});

const refused = test.macro({
  async exec(t, parent: () => string, name: string, options: object, errorName: string, pattern: RegExp, fdMode = 'path-dir') {
    const dir = parent();
    const isDir = fs.statSync(dir).isDirectory();
    const before = isDir ? fs.readdirSync(dir).sort() : [];
    const r = await callAs(alice, stack.address, 'MakeDirectory', 'hsa{sv}', [{ $fd: dir, mode: fdMode }, name, options]);
    t.false(r.ok, 'the call should fail');
    if (r.ok) return;
    t.is(r.name, ERR + errorName, r.message);
    t.regex(r.message, pattern);
    if (isDir) t.deepEqual(fs.readdirSync(dir).sort(), before, 'nothing was created');
  },
  title: (title) => `MakeDirectory refuses: ${title}`,
});

rootSerial('a parent owned by another user', refused, () => bobDir, 'x', {}, 'NotOwner', /^parent: .*uid 61002/);
rootSerial('a parent that is a regular file', refused, () => path.join(aliceDir, 'taken'), 'x', {}, 'BadFileDescriptor', /^parent: expected a directory, got a regular file/, 'path');
rootSerial('the name "../x"', refused, () => aliceDir, '../x', {}, 'InvalidArgument', /^name: .*single path component/);
rootSerial('the name "a/b"', refused, () => aliceDir, 'a/b', {}, 'InvalidArgument', /^name: .*single path component/);
rootSerial('the name "."', refused, () => aliceDir, '.', {}, 'InvalidArgument', /^name: must not be "\."/);
rootSerial('the name ".."', refused, () => aliceDir, '..', {}, 'InvalidArgument', /^name: must not be "\.\."/);
rootSerial('an empty name', refused, () => aliceDir, '', {}, 'InvalidArgument', /^name: must not be empty/);
rootSerial('a mode beyond 07777', refused, () => aliceDir, 'x', { Mode: v('u', 0o17777) }, 'InvalidArgument', /^options\.Mode: /);
rootSerial('a Mode of the wrong type', refused, () => aliceDir, 'x', { Mode: v('s', '0755') }, 'InvalidArgument', /^options\.Mode: expected a variant of type 'u'/);
rootSerial('an unknown option', refused, () => aliceDir, 'x', { Owner: v('u', 0) }, 'InvalidArgument', /^options\.Owner: unknown/);

rootTest.serial('polkit sees the parent, name and mode of an unprivileged call in its details', async (t) => {
  // Worked out only when polkit is asked (never for root): the rule must still get them.
  await stack.polkit.setRules(`polkit.addRule(function (action, subject) {
    if (action.id != "org.nsmount.make-directory") return;
    var expected = action.lookup("parent") == ${JSON.stringify(aliceDir)} && action.lookup("name") == "vetted" && action.lookup("mode") == "0750";
    return expected ? polkit.Result.YES : polkit.Result.NO;
  });`);
  t.teardown(() => stack.polkit.setRules(''));
  expectOk(t, await makeDirectory(alice, aliceDir, 'vetted', { Mode: v('u', 0o750) }));
  const refused = await makeDirectory(alice, aliceDir, 'unvetted', { Mode: v('u', 0o750) });
  t.false(refused.ok);
  if (!refused.ok) t.is(refused.name, `${ERR}NotAuthorized`);
  t.false(fs.existsSync(path.join(aliceDir, 'unvetted')));
});
