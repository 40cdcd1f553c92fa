// A caller that leaves the bus while the daemon is already acting for it
// (an app whose client timeout ran out during a slow password, then quit):
// the attachment is made, but nobody is there to receive it, so the daemon
// takes it back: detached, its loop device freed, nothing recorded.
//
// The daemon is held at act deterministically: the test holds the
// registry's flock, so the call waits for it (after polkit agreed, before
// act); meanwhile the client is killed and the bus drops its name.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { v } from '../helpers/call';
import { CALL_CLIENT } from '../helpers/paths';
import { bob } from '../helpers/users';
import { makeExt4, tempDir, waitForNoLoopDevicesUnder } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';
import { busNamesOfPid, holdRegistryLock, logEntries, mountsBelow, nameHasOwner, readRegistry, waitFor, waitsForRegistryLock } from './fixture';

let work: string;
let image: string;
/** The configured, trusted image directory. */
let images: string;

test.before(async () => {
  if (rootSkipReason) return;
  work = tempDir('nsmountd-leaves-');
  fs.chmodSync(work, 0o755);
  images = path.join(work, 'images');
  fs.mkdirSync(images, { mode: 0o755 });
  image = makeExt4(work, 'leaves.ext4', { sizeMiB: 8, files: { 'hello.txt': 'x\n' } });
  fs.renameSync(image, (image = path.join(images, 'leaves.ext4')));
  fs.mkdirSync(path.join(work, 'bob'));
  fs.chownSync(path.join(work, 'bob'), bob.uid, bob.gid);
});
const stack = useTestStack(() => ({ config: `[images]\ndirectories = [${JSON.stringify(images)}]\n` }));
test.after.always(async () => {
  if (work) removeTree(work);
});

function bobsDir(name: string): string {
  const dir = path.join(work, 'bob', name);
  fs.mkdirSync(dir);
  fs.chownSync(dir, bob.uid, bob.gid);
  return dir;
}

const pathDir = (p: string) => ({ $fd: p, mode: 'path-dir' });

interface Case {
  member: string;
  body: (target: string) => unknown[];
}

const leaves = test.macro({
  async exec(t, c: Case) {
    const target = bobsDir(`${c.member}-target`);
    const logFrom = stack.daemon.logs.length;
    const release = holdRegistryLock(stack.stateDir);
    let released = false;
    const client = spawn(
      'setpriv',
      ['--reuid', String(bob.uid), '--regid', String(bob.gid), '--clear-groups', '--', process.execPath, CALL_CLIENT,
        '--address', stack.address, '--member', c.member, '--signature', 'ha{sv}', '--body', JSON.stringify(c.body(target))],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<void>((resolve) => client.on('exit', () => resolve()));
    try {
      await waitFor(`nsmountd to block on the registry lock in ${c.member}`, () => waitsForRegistryLock(stack.daemon.logs, logFrom));
      const names = await busNamesOfPid(stack.connection, client.pid!);
      t.is(names.length, 1);
      client.kill('SIGKILL');
      await exited;
      await waitFor('the bus to drop the client', async () => !(await nameHasOwner(stack.connection, names[0])));
      release();
      released = true;
    } finally {
      if (!released) release();
      client.kill('SIGKILL');
    }
    const call = await waitFor('the daemon to log the call', () =>
      logEntries(stack.daemon.logs, logFrom).find((e) => e.msg === 'call' && e.method === c.member),
    );
    t.like(call, { uid: bob.uid, outcome: 'undone' });
    t.deepEqual(mountsBelow(stack.daemon.pid, target), [], 'detached');
    t.deepEqual(readRegistry(stack.stateDir).mounts, [], 'nothing recorded');
    t.deepEqual(await waitForNoLoopDevicesUnder(work), [], 'the loop device is free');
  },
  title: (_provided, c: Case) => `${c.member}: an attachment for a caller gone before the reply is taken back`,
});

rootSerial(leaves, {
  member: 'Mount',
  body: (target) => [{ $fd: image, mode: 'r' }, { AttachTo: v('h', pathDir(target)) }],
});

rootSerial(leaves, {
  member: 'IdmapDirectory',
  body: (target) => [pathDir(bobsDir('tree')), { Mode: v('s', 'owner'), AttachTo: v('h', pathDir(target)) }],
});
