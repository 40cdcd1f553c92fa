// How often the caller directory asks the bus who is calling: once per
// sender, even when its first calls arrive together (16 connections each
// sending their first call at once used to ask 16 times per sender and
// connection, each an extra bus round trip before any work).
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type dbus from 'dbus-next';
import { rootTest, rootSkipReason } from '../helpers/root';
import { startPrivateSystemBus, type PrivateBus } from '../../src/stack/private-bus';
import { connectBus, safeDisconnect } from '../../src/bus/connection';
import { CallerDirectory } from '../../src/bus/caller';
import { BUS_POLICY } from '../helpers/paths';
import { removeTree } from '../helpers/cleanup';

let baseDir: string;
let bus: PrivateBus;
let daemonSide: dbus.MessageBus;
let callerSide: dbus.MessageBus;
/** GetConnectionCredentials calls the directory made through daemonSide. */
let credentialQuestions = 0;

test.before(async () => {
  if (rootSkipReason) return;
  baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-caller-lookups-'));
  bus = await startPrivateSystemBus({ runtimeDir: baseDir, policyFiles: [BUS_POLICY] });
  daemonSide = await connectBus({ address: bus.address });
  callerSide = await connectBus({ address: bus.address });
  // Counts on the real connection; the bus still answers every call.
  const call = daemonSide.call.bind(daemonSide);
  daemonSide.call = (message: dbus.Message) => {
    if (message.member === 'GetConnectionCredentials') credentialQuestions++;
    return call(message);
  };
});

test.after.always(async () => {
  if (daemonSide) safeDisconnect(daemonSide);
  if (callerSide) safeDisconnect(callerSide);
  await bus?.stop();
  if (baseDir) removeTree(baseDir);
});

rootTest.serial('concurrent first calls of one sender ask the bus once and agree', async (t) => {
  const callers = new CallerDirectory(daemonSide);
  const sender = (callerSide as unknown as { name: string }).name;
  credentialQuestions = 0;
  const found = await Promise.all(Array.from({ length: 8 }, () => callers.lookup(sender)));
  t.is(credentialQuestions, 1);
  for (const caller of found) t.deepEqual(caller, found[0]);
  t.is(found[0].uid, 0);
  t.is(found[0].sender, sender);
  await callers.lookup(sender);
  t.is(credentialQuestions, 1, 'a later call uses the cached answer');
});

rootTest.serial('a failed lookup is not kept: the next call asks again', async (t) => {
  const callers = new CallerDirectory(daemonSide);
  credentialQuestions = 0;
  const gone = ':1.999999';
  const refusals = await Promise.allSettled([callers.lookup(gone), callers.lookup(gone)]);
  t.true(refusals.every((r) => r.status === 'rejected'));
  t.is(credentialQuestions, 1);
  await t.throwsAsync(callers.lookup(gone));
  t.is(credentialQuestions, 2);
});
