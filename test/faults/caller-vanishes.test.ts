// A caller that disconnects while polkit is still deciding about it: polkit
// then says yes (it looked the caller up before it left), and the daemon
// must notice on its own that nobody is there to receive the result, act
// for no one and leave nothing allocated.
//
// polkit is made slow deterministically: a rule for bob runs polkit.spawn
// on a shell loop that announces itself (in-check) and waits for the test
// (release). Between the two the test kills the client and waits until the
// bus has dropped its name, so NameOwnerChanged reaches the daemon before
// polkit's answer does (the bus keeps the order of what it sends us).
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { v } from '../helpers/call';
import { CALL_CLIENT } from '../helpers/paths';
import { bob } from '../helpers/users';
import { makeExt4, tempDir, waitForNoLoopDevicesUnder } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';
import { busNamesOfPid, logEntries, mountsBelow, nameHasOwner, readRegistry, waitFor } from './fixture';

// The loop is bounded below polkit.spawn's own 10 s timeout, so a test
// that dies before releasing it cannot wedge polkitd for long.
const hold = `touch "$0/in-check"; i=0; while [ ! -e "$0/release" ] && [ $i -lt 800 ]; do sleep 0.01; i=$((i+1)); done`;
let gate: string;
let work: string;
let image: string;
/** The configured, trusted image directory. */
let images: string;

test.before(async () => {
  if (rootSkipReason) return;
  // polkitd runs the spawned shell as user polkitd: it must write here.
  gate = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-gate-'));
  fs.chmodSync(gate, 0o777);
  work = tempDir('nsmountd-vanish-');
  fs.chmodSync(work, 0o755);
  images = path.join(work, 'images');
  fs.mkdirSync(images, { mode: 0o755 });
  image = makeExt4(work, 'vanish.ext4', { sizeMiB: 8, files: { 'hello.txt': 'x\n' } });
  fs.renameSync(image, (image = path.join(images, 'vanish.ext4')));
  fs.mkdirSync(path.join(work, 'bob'));
  fs.chownSync(path.join(work, 'bob'), bob.uid, bob.gid);
});
test.after.always(async () => {
  if (gate) fs.writeFileSync(path.join(gate, 'release'), '');
});
const stack = useTestStack(() => ({
  config: `[images]\ndirectories = [${JSON.stringify(images)}]\n`,
  rules: `polkit.addRule(function (action, subject) {
    if (subject.user == "nsmtest-bob" && action.id.indexOf("org.nsmount.") == 0 && action.id != "org.nsmount.stack.probe") {
      polkit.spawn(["/bin/sh", "-c", ${JSON.stringify(hold)}, ${JSON.stringify(gate)}]);
      return polkit.Result.YES;
    }
  });`,
}));
test.after.always(async () => {
  if (work) removeTree(work);
  if (gate) fs.rmSync(gate, { recursive: true, force: true });
});

/** An empty directory of bob's, fresh for each case. */
function bobsDir(name: string): string {
  const dir = path.join(work, 'bob', name);
  fs.mkdirSync(dir);
  fs.chownSync(dir, bob.uid, bob.gid);
  return dir;
}

interface Case {
  member: string;
  signature: string;
  body: () => unknown[];
  /** Whatever the call would have left behind had the daemon acted. */
  leftBehind: () => unknown[];
}

const pathDir = (p: string) => ({ $fd: p, mode: 'path-dir' });

const vanishes = test.macro({
  async exec(t, c: Case) {
    fs.rmSync(path.join(gate, 'in-check'), { force: true });
    fs.rmSync(path.join(gate, 'release'), { force: true });
    const logFrom = stack.daemon.logs.length;
    const body = c.body();
    const client = spawn(
      'setpriv',
      ['--reuid', String(bob.uid), '--regid', String(bob.gid), '--clear-groups', '--',
        process.execPath, CALL_CLIENT, '--address', stack.address, '--member', c.member, '--signature', c.signature, '--body', JSON.stringify(body)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    client.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => client.on('exit', (_code, signal) => resolve(signal)));
    try {
      await waitFor('polkit to start deciding about bob', () => fs.existsSync(path.join(gate, 'in-check')));
      const names = await busNamesOfPid(stack.connection, client.pid!);
      t.is(names.length, 1, `the client's bus names: ${names.join(' ')}`);
      client.kill('SIGKILL');
      t.is(await exited, 'SIGKILL');
      t.is(output, '', 'the client got no answer before it was killed');
      await waitFor('the bus to drop the client', async () => !(await nameHasOwner(stack.connection, names[0])));
    } finally {
      fs.writeFileSync(path.join(gate, 'release'), '');
    }
    const call = await waitFor('the daemon to log the call', () =>
      logEntries(stack.daemon.logs, logFrom).find((e) => e.msg === 'call' && e.method === c.member),
    );
    t.like(call, { uid: bob.uid, polkit: 'authorized', outcome: `${'org.nsmount.NsMount1.Error.'}NotAuthorized` });
    t.regex(String(call.error), /left the bus/);
    t.deepEqual(c.leftBehind(), []);
    t.deepEqual(await waitForNoLoopDevicesUnder(work), [], 'no loop device was set up for nobody');
  },
  title: (_provided, c: Case) => `${c.member}: a caller gone during its polkit check gets nothing done`,
});

rootSerial(vanishes, {
  member: 'AllocateUserNamespace',
  signature: 'sua{sv}',
  body: () => ['vanished', 0, {}],
  leftBehind: () => readRegistry(stack.stateDir).namespaces.filter((n) => n.ownerUid === bob.uid),
});

let parent: string;
rootSerial(vanishes, {
  member: 'MakeDirectory',
  signature: 'hsa{sv}',
  body: () => [pathDir((parent = bobsDir('parent'))), 'made', {}],
  leftBehind: () => fs.readdirSync(parent),
});

let mountTarget: string;
rootSerial(vanishes, {
  member: 'Mount',
  signature: 'ha{sv}',
  body: () => [{ $fd: image, mode: 'r' }, { AttachTo: v('h', pathDir((mountTarget = bobsDir('mnt')))) }],
  leftBehind: () => [...mountsBelow(stack.daemon.pid, mountTarget), ...readRegistry(stack.stateDir).mounts],
});

let idmapTarget: string;
rootSerial(vanishes, {
  member: 'IdmapDirectory',
  signature: 'ha{sv}',
  body: () => [pathDir(bobsDir('tree')), { Mode: v('s', 'identity'), AttachTo: v('h', pathDir((idmapTarget = bobsDir('idmapped')))) }],
  leftBehind: () => [...mountsBelow(stack.daemon.pid, idmapTarget), ...readRegistry(stack.stateDir).mounts],
});
