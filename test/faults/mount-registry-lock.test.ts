// A Mount without AttachTo stores nothing (the registry records only
// attachments), so it does not wait for the registry lock: another daemon
// sharing the state directory, holding the lock, does not hold it up. One
// with AttachTo still waits (caller-leaves-during-act.test.ts).
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs } from '../helpers/call';
import { bob } from '../helpers/users';
import { makeExt4, tempDir, waitForNoLoopDevicesUnder } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';
import { holdRegistryLock, logEntries, readRegistry, waitsForRegistryLock } from './fixture';

let work: string;
let image: string;

test.before(() => {
  if (rootSkipReason) return;
  work = tempDir('nsmountd-mount-lock-');
  fs.chmodSync(work, 0o755);
  const images = path.join(work, 'images');
  fs.mkdirSync(images, { mode: 0o755 });
  image = makeExt4(images, 'lock.ext4', { sizeMiB: 8, files: { 'hello.txt': 'x\n' } });
});
// Short, so the old behaviour (waiting for the lock) fails soon with RegistryBusy.
const stack = useTestStack(() => ({
  config: `[daemon]\nregistry_lock_timeout_sec = 2\n[images]\ndirectories = [${JSON.stringify(path.dirname(image))}]\n`,
}));
test.after.always(() => {
  if (work) removeTree(work);
});

rootSerial('Mount without AttachTo does not wait for the registry lock another process holds', async (t) => {
  const logFrom = stack.daemon.logs.length;
  const release = holdRegistryLock(stack.stateDir);
  let result;
  try {
    result = await callAs(bob, stack.address, 'Mount', 'ha{sv}', [{ $fd: image, mode: 'r' }, {}], {
      then: 'cat /proc/self/fdinfo/$FD0 >/dev/null',
    });
  } finally {
    release();
  }
  t.true(result.ok, JSON.stringify(result));
  t.false(waitsForRegistryLock(stack.daemon.logs, logFrom), 'the call did not wait for the lock');
  t.like(logEntries(stack.daemon.logs, logFrom).find((e) => e.msg === 'call' && e.method === 'Mount'), { uid: bob.uid, outcome: 'ok' });
  t.deepEqual(readRegistry(stack.stateDir).mounts, [], 'nothing recorded');
  t.deepEqual(await waitForNoLoopDevicesUnder(work), [], 'the loop device is free once the client closed its mount');
});
