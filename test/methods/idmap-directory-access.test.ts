// IdmapDirectory: who may idmap what into which namespace: the container
// flow alice is meant for, every refusal, what a polkit rule and root may
// do, and that none of it leaves a mount or an fd behind.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootSerial, rootTest } from '../helpers/root';
import { v } from '../helpers/call';
import { alice, bob } from '../helpers/users';
import { mountsBelow } from '../helpers/work-dirs';
import { runSession, ref, inNamespace, ATTACH_CLIENT, type SessionStep } from '../helpers/session';
import {
  aliceDir,
  allocate,
  bobDir,
  ERR,
  fdsAtStart,
  FOREIGN_ROOT,
  idmap,
  INTERACTIVE_REQUIRED,
  lent,
  NODE,
  ok,
  pathFd,
  rootDir,
  useIdmapStack,
  withNs,
  work,
} from './idmap-directory-fixture';

const stack = useIdmapStack();

rootTest.serial('container flow: a foreign directory idmapped into her namespace is hers to fill as root and as uid 1000', async (t) => {
  const inside = [
    `${NODE} ${ATTACH_CLIENT} $FD_mnt /mnt`,
    'id -u',
    'touch /mnt/by-root',
    'mkdir /mnt/home && chown 1000:1000 /mnt/home',
    'setpriv --reuid 1000 --regid 1000 --clear-groups touch /mnt/home/by-1000',
    'stat -c "%u %g" /mnt/by-root /mnt/home/by-1000',
    'grep " /mnt " /proc/self/mountinfo',
  ].join(' && ');
  const r = await runSession(
    alice,
    stack.address,
    [
      allocate('container'),
      { name: 'dir', member: 'MakeDirectory', signature: 'hsa{sv}', body: [pathFd(aliceDir), 'container', {}] },
      idmap(ref('dir'), { UserNamespace: v('h', ref('ns')), Mode: v('s', 'foreign') }),
    ],
    { then: inNamespace('ns', inside) },
  );
  ok(t, r.steps.ns);
  ok(t, r.steps.dir);
  ok(t, r.steps.mnt);
  t.is(r.then?.code, 0, r.then?.stderr);
  const lines = r.then!.stdout.trim().split('\n');
  t.is(lines[0], '0');
  t.deepEqual(lines.slice(1, 3), ['0 0', '1000 1000']);
  const options = lines[3].split(' ')[5].split(',');
  t.true(options.includes('nosuid') && options.includes('nodev') && options.includes('idmapped'), lines[3]);
  // On disk the files belong to the foreign range.
  const tree = path.join(aliceDir, 'container');
  t.is(fs.statSync(path.join(tree, 'by-root')).uid, FOREIGN_ROOT);
  t.is(fs.statSync(path.join(tree, 'by-root')).gid, FOREIGN_ROOT);
  t.is(fs.statSync(path.join(tree, 'home/by-1000')).uid, FOREIGN_ROOT + 1000);
  t.is(fs.statSync(path.join(tree, 'home/by-1000')).gid, FOREIGN_ROOT + 1000);
  // The detached mount went away with the client: nothing is left in the daemon's namespace.
  t.deepEqual(mountsBelow(stack.daemon.pid, aliceDir).map((m) => m.mountPoint), [path.join(aliceDir, 'mounted')]);
});

interface Refusal {
  /** Steps before the refused call (e.g. allocating a namespace). */
  before?: SessionStep[];
  directory: () => unknown;
  options?: () => Record<string, unknown>;
  interactive?: boolean;
  /** Pass the namespace bob lent as fd 3. */
  lentNamespace?: boolean;
  error: string;
  message: RegExp;
}

const refused = test.macro({
  async exec(t, c: Refusal) {
    const r = await runSession(alice, stack.address, [...(c.before ?? []), idmap(c.directory(), c.options?.() ?? {}, { interactive: c.interactive })], {
      fds: c.lentNamespace ? [lent.fd] : undefined,
    });
    const step = r.steps.mnt;
    t.false(step.ok, 'the call should fail');
    if (step.ok) return;
    t.is(step.error, c.error.includes('.') ? c.error : ERR + c.error, step.message);
    t.regex(step.message, c.message);
    t.deepEqual(mountsBelow(stack.daemon.pid, work).map((m) => m.mountPoint), [path.join(aliceDir, 'mounted')], 'no mount left behind');
  },
  title: (title) => `IdmapDirectory refuses ${title}`,
});

rootSerial('a directory of another user in auto mode', refused, { directory: () => pathFd(bobDir), error: 'NotOwner', message: /^directory: owned by uid 61002/ });
rootSerial('a directory of another user in identity mode, without an administrator', refused, {
  directory: () => pathFd(bobDir),
  options: () => ({ Mode: v('s', 'identity') }),
  error: INTERACTIVE_REQUIRED,
  message: /org\.nsmount\.idmap-directory-untrusted/,
});
rootSerial('a foreign directory with no ancestor of hers (no interaction allowed)', refused, {
  before: [allocate('orphan-1')],
  directory: () => pathFd(path.join(rootDir, 'orphan')),
  options: withNs(),
  error: INTERACTIVE_REQUIRED,
  message: /org\.nsmount\.idmap-directory-untrusted/,
});
rootSerial('a foreign directory with no ancestor of hers (interaction allowed, no agent)', refused, {
  before: [allocate('orphan-2')],
  directory: () => pathFd(path.join(rootDir, 'orphan')),
  options: withNs(),
  interactive: true,
  error: 'NotAuthorizedCanObtain',
  message: /org\.nsmount\.idmap-directory-untrusted/,
});
rootSerial('the owner mode on a directory of another user', refused, {
  directory: () => pathFd(bobDir),
  options: () => ({ Mode: v('s', 'owner') }),
  error: INTERACTIVE_REQUIRED,
  message: /org\.nsmount\.idmap-directory-untrusted/,
});
rootSerial('an AttachTo directory that is not empty', refused, {
  directory: () => pathFd(aliceDir),
  options: () => ({ AttachTo: v('h', pathFd(path.join(aliceDir, 'not-empty'))) }),
  error: 'NotEmpty',
  message: /^options\.AttachTo: .*not empty/,
});
rootSerial('an AttachTo directory of another user', refused, {
  directory: () => pathFd(aliceDir),
  options: () => ({ AttachTo: v('h', pathFd(path.join(bobDir, 'target'))) }),
  error: 'NotOwner',
  message: /^options\.AttachTo: .*uid 61002/,
});
rootSerial('an AttachTo directory that is already a mount point', refused, {
  directory: () => pathFd(aliceDir),
  options: () => ({ AttachTo: v('h', pathFd(path.join(aliceDir, 'mounted'))) }),
  error: 'AlreadyMounted',
  message: /^options\.AttachTo: .*mount point/,
});
rootSerial('an AttachTo that is a regular file', refused, {
  directory: () => pathFd(aliceDir),
  options: () => ({ AttachTo: v('h', pathFd(path.join(aliceDir, 'file'), 'path')) }),
  error: 'BadFileDescriptor',
  message: /^options\.AttachTo: expected a directory, got a regular file/,
});
rootSerial("another user's namespace", refused, {
  directory: () => pathFd(path.join(aliceDir, 'container')),
  options: () => ({ UserNamespace: v('h', { $fd: 3 }) }),
  lentNamespace: true,
  error: 'WrongNamespace',
  message: /^options\.UserNamespace: .*allocated for another user/,
});
rootSerial('a user namespace nsmountd did not allocate', refused, {
  directory: () => pathFd(path.join(aliceDir, 'container')),
  options: () => ({ UserNamespace: v('h', { $fd: '/proc/self/ns/user', mode: 'r' }) }),
  error: 'WrongNamespace',
  message: /^options\.UserNamespace: not a user namespace nsmountd allocated/,
});
rootSerial('a network namespace as UserNamespace', refused, {
  directory: () => pathFd(path.join(aliceDir, 'container')),
  options: () => ({ UserNamespace: v('h', { $fd: '/proc/self/ns/net', mode: 'r' }) }),
  error: 'BadFileDescriptor',
  message: /^options\.UserNamespace: expected a user namespace, got a net namespace/,
});
rootSerial('a regular file as UserNamespace', refused, {
  directory: () => pathFd(path.join(aliceDir, 'container')),
  options: () => ({ UserNamespace: v('h', { $fd: path.join(aliceDir, 'file'), mode: 'r' }) }),
  error: 'BadFileDescriptor',
  message: /^options\.UserNamespace: expected a user namespace, got a regular file/,
});
rootSerial('a regular file as directory', refused, { directory: () => pathFd(path.join(aliceDir, 'file'), 'r'), error: 'BadFileDescriptor', message: /^directory: expected a directory, got a regular file/ });
rootSerial('a socket as directory', refused, { directory: () => pathFd(path.join(aliceDir, 'socket'), 'path'), error: 'BadFileDescriptor', message: /^directory: expected a directory, got a socket/ });
rootSerial('a pipe as directory', refused, { directory: () => pathFd(path.join(aliceDir, 'pipe'), 'path'), error: 'BadFileDescriptor', message: /^directory: expected a directory, got a pipe/ });
rootSerial('an unknown mode', refused, { directory: () => pathFd(aliceDir), options: () => ({ Mode: v('s', 'sideways') }), error: 'InvalidArgument', message: /^options\.Mode: must be one of/ });
rootSerial('the foreign mode without a namespace', refused, {
  directory: () => pathFd(path.join(aliceDir, 'container')),
  error: 'InvalidArgument',
  message: /^options\.UserNamespace: the foreign mode needs/,
});

rootTest.serial('a polkit rule granting alice the untrusted action makes the untrusted case work', async (t) => {
  await stack.polkit.setRules(`
    polkit.addRule(function (action, subject) {
      if (action.id == "org.nsmount.idmap-directory-untrusted" && subject.user == "${alice.name}" &&
          action.lookup("directory") == "${path.join(rootDir, 'orphan')}" && action.lookup("mode") == "foreign")
        return polkit.Result.YES;
    });`);
  try {
    const steps = [allocate('granted'), idmap(pathFd(path.join(rootDir, 'orphan')), withNs()())];
    const r = await runSession(alice, stack.address, steps, { then: inNamespace('ns', `${NODE} ${ATTACH_CLIENT} $FD_mnt /mnt && stat -c %u /mnt`) });
    ok(t, r.steps.mnt);
    t.is(r.then?.stdout, '0\n', r.then?.stderr);
    // The rule names alice: bob is still refused.
    const other = await runSession(bob, stack.address, steps);
    t.false(other.steps.mnt.ok);
    if (!other.steps.mnt.ok) t.is(other.steps.mnt.error, INTERACTIVE_REQUIRED);
  } finally {
    await stack.polkit.setRules('');
  }
});

rootTest.serial('root may idmap anything into any user namespace', async (t) => {
  const r = await runSession('root', stack.address, [allocate('root-any'), idmap(pathFd(path.join(rootDir, 'orphan')), withNs()())], {
    then: inNamespace('ns', `${NODE} ${ATTACH_CLIENT} $FD_mnt /mnt && grep " /mnt " /proc/self/mountinfo`),
  });
  ok(t, r.steps.mnt);
  const options = r.then!.stdout.split(' ')[5].split(',');
  t.false(options.includes('nosuid'), 'root is not forced to nosuid');
});

rootTest.serial('after all of it: no mount left in the daemon namespace and no fd leaked', async (t) => {
  t.deepEqual(mountsBelow(stack.daemon.pid, work).map((m) => m.mountPoint), [path.join(aliceDir, 'mounted')]);
  t.is(stack.daemon.fdCount(), fdsAtStart);
});
