// The Manager's change signals: attachments appearing and disappearing
// (also behind the daemon's back, by the next sweep at the latest) and
// namespaces allocated and reclaimed, broadcast with the owner's uid and
// the kernel's id only, so another user who subscribes learns no path and
// no name.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dbus from 'dbus-next';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v } from '../helpers/call';
import { alice, bob } from '../helpers/users';
import { makeExt4 } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';
import { waitFor } from '../faults/fixture';
import { fdArg, makeImageDirs, place, type ImageDirs } from '../methods/mount-fixture';
import { SERVICE_NAME, SERVICE_PATH, MANAGER_INTERFACE } from '../helpers/paths';

interface Signal {
  member: string;
  ownerUid: number;
  id: bigint;
}

let dirs: ImageDirs;
let image: string;
const seen: Signal[] = [];
let bobsMonitor: ChildProcess;
let bobsView = '';

test.before(async () => {
  if (rootSkipReason) return;
  dirs = makeImageDirs();
  image = place(makeExt4(dirs.base, 'photos.ext4', { sizeMiB: 8, label: 'Photos', files: { 'a.txt': 'a\n' } }), dirs.trusted);
});
test.after.always(async () => {
  bobsMonitor?.kill();
});
const stack = useTestStack(() => ({ config: `${dirs.config}[pool]\nreclaim_interval_sec = 1\n` }));
test.before(async () => {
  if (rootSkipReason) return;
  stack.connection.on('message', (msg: dbus.Message) => {
    if (msg.type !== dbus.MessageType.SIGNAL || msg.interface !== MANAGER_INTERFACE) return;
    const [ownerUid, id] = msg.body as [number, bigint];
    seen.push({ member: msg.member!, ownerUid, id: BigInt(id) });
  });
  await stack.connection.call(
    new dbus.Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'AddMatch',
      signature: 's',
      body: [`type='signal',sender='${SERVICE_NAME}',interface='${MANAGER_INTERFACE}'`],
    }),
  );
  // Another user listening in, as any process on the bus may.
  bobsMonitor = spawn(
    'setpriv',
    ['--reuid', String(bob.uid), '--regid', String(bob.gid), '--clear-groups', '--',
      'gdbus', 'monitor', '--system', '--dest', SERVICE_NAME, '--object-path', SERVICE_PATH],
    { env: { PATH: process.env.PATH, DBUS_SYSTEM_BUS_ADDRESS: stack.address }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  bobsMonitor.stdout!.setEncoding('utf8').on('data', (d: string) => (bobsView += d));
  await waitFor("bob's monitor to subscribe", () => bobsView.includes('Monitoring signals'));
});
test.after.always(async () => {
  if (dirs) removeTree(dirs.base);
});

function next(member: string, ownerUid: number, from: number): Promise<Signal> {
  return waitFor(`${member} for uid ${ownerUid}`, () => seen.slice(from).find((s) => s.member === member && s.ownerUid === ownerUid), 15000);
}

function aliceTarget(name: string): string {
  const dir = path.join(dirs.untrusted, name);
  fs.mkdirSync(dir);
  fs.chownSync(dir, alice.uid, alice.gid);
  return dir;
}

async function attachAsAlice(target: string): Promise<bigint> {
  const from = seen.length;
  const r = await callAs(alice, stack.address, 'Mount', 'ha{sv}', [fdArg(image), { AttachTo: v('h', { $fd: target, mode: 'path-dir' }) }]);
  if (!r.ok) throw new Error(`${r.name}: ${r.message}`);
  const added = await next('MountAdded', alice.uid, from);
  const listed = await callAs(alice, stack.address, 'ListMounts', 'a{sv}', [{}]);
  if (!listed.ok) throw new Error(listed.message);
  const ids = (listed.body[0] as Array<[string, number, string, string, number | { $bigint: string }]>)
    .filter((m) => m[0] === target)
    .map((m) => BigInt(typeof m[4] === 'object' ? m[4].$bigint : m[4]));
  if (ids.length !== 1 || ids[0] !== added.id) throw new Error(`MountAdded named ${added.id}, ListMounts ${ids.join(',')}`);
  return added.id;
}

rootSerial('a namespace is announced when allocated and when reclaimed after its last fd closed', async (t) => {
  const from = seen.length;
  const r = await callAs(alice, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['secret-project', 0, {}]);
  t.true(r.ok);
  const allocated = await next('UserNamespaceAllocated', alice.uid, from);
  // The client exited, so the namespace is gone; the next sweep reclaims it.
  const reclaimed = await next('UserNamespaceReclaimed', alice.uid, from);
  t.is(reclaimed.id, allocated.id);
});

rootSerial('an attachment is announced when made and when unmounted', async (t) => {
  const target = aliceTarget('unmounted');
  const id = await attachAsAlice(target);
  const from = seen.length;
  const r = await callAs(alice, stack.address, 'Unmount', 'ha{sv}', [{ $fd: target, mode: 'path-dir' }, {}]);
  t.true(r.ok);
  t.is((await next('MountRemoved', alice.uid, from)).id, id);
});

rootSerial('an attachment unmounted behind the daemon\'s back is announced by the next sweep', async (t) => {
  const target = aliceTarget('behind-back');
  const id = await attachAsAlice(target);
  const from = seen.length;
  execFileSync('umount', ['-l', target]);
  t.is((await next('MountRemoved', alice.uid, from)).id, id);
});

rootSerial('another user subscribed sees owners and ids, never a path or a name', async (t) => {
  await waitFor("bob's monitor to see alice's signals", () => bobsView.includes(`MountRemoved (uint32 ${alice.uid}, `));
  t.regex(bobsView, new RegExp(`MountAdded \\(uint32 ${alice.uid}, uint64 \\d+\\)`));
  t.regex(bobsView, new RegExp(`UserNamespaceAllocated \\(uint32 ${alice.uid}, uint64 \\d+\\)`));
  for (const secret of ['secret-project', dirs.untrusted, image, 'Photos']) t.false(bobsView.includes(secret), secret);
});
