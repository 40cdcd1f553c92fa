import test from 'ava';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { rootSerial, rootSkipReason, rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v } from '../helpers/call';
import { CALL_CLIENT } from '../helpers/paths';
import { alice, bob } from '../helpers/users';
import {
  MiB,
  TYPE_HOME,
  TYPE_ROOT_X86_64,
  makeErofs,
  makeExt4,
  makeGpt,
  makeSquashfs,
  tempDir,
  waitForNoLoopDevicesUnder,
} from '../helpers/images';
import {
  STATVFS_FLAGS,
  ST_NODEV,
  ST_NOSUID,
  ST_RDONLY,
  entries,
  expectError,
  expectOk,
  fdArg,
  makeImageDirs,
  mountAs,
  place,
  thenOutput,
  type ImageDirs,
} from './mount-fixture';

let dirs: ImageDirs;
const img: Record<string, string> = {};
let gpt: ReturnType<typeof makeGpt>;

const HELLO = { 'hello.txt': 'hello from the image\n' };

test.before(async () => {
  if (rootSkipReason) return;
  dirs = makeImageDirs();
  const build = tempDir('nsmountd-mount-build-');
  img.trustedExt4 = place(makeExt4(build, 'trusted.ext4', { label: 'trusted', files: HELLO }), dirs.trusted);
  img.untrustedExt4 = place(makeExt4(build, 'untrusted.ext4', { files: HELLO }), dirs.untrusted, alice);
  img.erofs = place(makeErofs(build, 'image.erofs', { files: HELLO }), dirs.trusted);
  img.squashfs = place(makeSquashfs(build, 'image.squashfs', { files: HELLO }), dirs.trusted);
  const rootFs = makeExt4(build, 'root.ext4', { sizeMiB: 8, label: 'root', files: { 'etc/os-release': 'ID=gpt-root\n' } });
  const homeFs = makeExt4(build, 'home.ext4', { sizeMiB: 8, label: 'home', files: { 'alice/notes': 'home notes\n' } });
  gpt = makeGpt(build, 'disk.gpt', [
    { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs },
    { type: TYPE_HOME, sizeMiB: 8, content: homeFs },
  ]);
  img.gpt = place(gpt.image, dirs.trusted);
  fs.rmSync(build, { recursive: true, force: true });
});
const stack = useTestStack(() => ({ config: dirs.config }));
test.after.always(async () => {
  if (dirs) fs.rmSync(dirs.base, { recursive: true, force: true });
});
test.afterEach.always(async (t) => {
  if (rootSkipReason) return;
  // Every client has exited and closed its fds by now: nothing may be left.
  t.deepEqual(await waitForNoLoopDevicesUnder(dirs.base), [], 'a loop device outlived its mounts');
});

rootTest.serial('a bare ext4 image mounts read-write: the file reads and a new one can be written', async (t) => {
  const r = expectOk(
    t,
    await mountAs('root', stack.address, fdArg(img.trustedExt4, 'rw'), { ReadOnly: v('b', false) }, {
      then: 'cat /proc/self/fd/$FD0/hello.txt && echo written > /proc/self/fd/$FD0/new.txt && cat /proc/self/fd/$FD0/new.txt',
    }),
  );
  const [entry] = entries(r);
  t.is(entries(r).length, 1);
  t.like({ ...entry }, { 0: 'root', 1: 'ext4', 3: 'trusted', 4: 0, 5: 16 * MiB, 6: false });
  t.regex(entry[2], /^[0-9a-f-]{36}$/);
  t.is(thenOutput(t, r), 'hello from the image\nwritten\n');
});

rootTest.serial('ReadOnly true mounts read-only: reading works, writing fails', async (t) => {
  const r = expectOk(
    t,
    await mountAs('root', stack.address, fdArg(img.trustedExt4, 'rw'), { ReadOnly: v('b', true) }, {
      then: 'cat /proc/self/fd/$FD0/hello.txt; if echo x > /proc/self/fd/$FD0/nope 2>/dev/null; then echo WROTE; fi',
    }),
  );
  t.true(entries(r)[0][6]);
  t.is(thenOutput(t, r), 'hello from the image\n');
});

rootTest.serial('a read-only image fd forces a read-only mount even when ReadOnly is false', async (t) => {
  const r = expectOk(
    t,
    await mountAs('root', stack.address, fdArg(img.trustedExt4, 'r'), { ReadOnly: v('b', false) }, {
      then: `if echo x > /proc/self/fd/$FD0/nope 2>/dev/null; then echo WROTE; fi; ${STATVFS_FLAGS} $FD0`,
    }),
  );
  t.true(entries(r)[0][6]);
  t.is(Number(thenOutput(t, r).trim()) & ST_RDONLY, ST_RDONLY);
});

const readOnlyFormat = test.macro({
  async exec(t, name: string, fstype: string) {
    const r = expectOk(t, await mountAs('root', stack.address, fdArg(img[name], 'rw'), { ReadOnly: v('b', false) }, {
      then: 'cat /proc/self/fd/$FD0/hello.txt',
    }));
    const [entry] = entries(r);
    t.is(entry[0], 'root');
    t.is(entry[1], fstype);
    t.true(entry[6], `${fstype} is always mounted read-only`);
    t.is(thenOutput(t, r), 'hello from the image\n');
  },
  title: (_, name: string, fstype: string) => `a bare ${fstype} image (${name}) mounts and reads`,
});
rootSerial(readOnlyFormat, 'erofs', 'erofs');
rootSerial(readOnlyFormat, 'squashfs', 'squashfs');

rootTest.serial('a GPT image gives its root and home partitions, each at its offset and size', async (t) => {
  const r = expectOk(t, await mountAs('root', stack.address, fdArg(img.gpt), {}, {
    then: 'cat /proc/self/fd/$FD0/etc/os-release /proc/self/fd/$FD1/alice/notes',
  }));
  t.deepEqual(
    entries(r).map((e) => [e[0], e[1], e[3], e[4], e[5]]),
    [
      ['root', 'ext4', 'root', Number(gpt.partitions[0].offset), Number(gpt.partitions[0].size)],
      ['home', 'ext4', 'home', Number(gpt.partitions[1].offset), Number(gpt.partitions[1].size)],
    ],
  );
  t.is(thenOutput(t, r), 'ID=gpt-root\nhome notes\n');
});

// Mount reuses a trusted image's dissection while the file is unchanged
// (src/image/trusted-dissections.ts): a change in place, even back to
// back and of the same size, must be seen by the very next call.
rootTest.serial('a trusted image relabelled in place between two Mounts: the next reply has the new label and mounts the new file', async (t) => {
  const build = tempDir('nsmountd-mount-relabel-');
  const image = place(makeExt4(build, 'relabelled.ext4', { sizeMiB: 8, label: 'before', files: HELLO }), dirs.trusted);
  fs.rmSync(build, { recursive: true, force: true });
  try {
    const labels: string[] = [];
    for (const label of ['before', 'before', 'after', 'again']) {
      if (label !== labels[labels.length - 1] && labels.length > 0) execFileSync('e2label', [image, label]);
      const r = expectOk(t, await mountAs('root', stack.address, fdArg(image), { ReadOnly: v('b', true) }, { then: 'cat /proc/self/fd/$FD0/hello.txt' }));
      labels.push(entries(r)[0][3]);
      t.is(thenOutput(t, r), 'hello from the image\n');
    }
    t.deepEqual(labels, ['before', 'before', 'after', 'again']);
  } finally {
    fs.rmSync(image, { force: true });
  }
});

rootTest.serial('Partitions picks designators; one the image lacks is NoMountablePartition', async (t) => {
  const r = expectOk(t, await mountAs('root', stack.address, fdArg(img.gpt), { Partitions: v('as', ['home']) }, {
    then: 'cat /proc/self/fd/$FD0/alice/notes',
  }));
  t.deepEqual(entries(r).map((e) => e[0]), ['home']);
  t.is(thenOutput(t, r), 'home notes\n');
  expectError(t, await mountAs('root', stack.address, fdArg(img.gpt), { Partitions: v('as', ['srv']) }), 'NoMountablePartition', /srv/);
  expectError(t, await mountAs('root', stack.address, fdArg(img.gpt), { Partitions: v('as', ['bogus']) }), 'InvalidArgument', /^options\.Partitions: /);
});

rootTest.serial('an unprivileged user mounts a trusted image without any rule, nosuid and nodev', async (t) => {
  const r = expectOk(t, await mountAs(alice, stack.address, fdArg(img.gpt), {}, {
    then: `cat /proc/self/fd/$FD0/etc/os-release; ${STATVFS_FLAGS} $FD0 $FD1`,
  }));
  const [osRelease, ...flags] = thenOutput(t, r).trim().split('\n');
  t.is(osRelease, 'ID=gpt-root');
  t.is(flags.length, 2);
  for (const f of flags) t.is(Number(f) & (ST_NOSUID | ST_NODEV), ST_NOSUID | ST_NODEV, `f_flag ${f}`);
  // A trusted image is read-write by default; alice's fd is O_RDONLY, so read-only it is.
  t.true(entries(r).every((e) => e[6]));
});

rootTest.serial("root's mounts are not forced nosuid or nodev", async (t) => {
  const r = expectOk(t, await mountAs('root', stack.address, fdArg(img.trustedExt4), {}, { then: `${STATVFS_FLAGS} $FD0` }));
  t.is(Number(thenOutput(t, r).trim()) & (ST_NOSUID | ST_NODEV), 0);
});

rootTest.serial('an untrusted image needs the untrusted action: refused until a rule allows it', async (t) => {
  const image = fdArg(img.untrustedExt4);
  expectError(t, await mountAs(alice, stack.address, image), 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired', /mount-image-untrusted/);
  expectError(t, await mountAs(alice, stack.address, image, {}, { interactive: true }), 'NotAuthorizedCanObtain', /mount-image-untrusted/);
  // MountOptions on a trusted image also needs it.
  expectError(t, await mountAs(alice, stack.address, fdArg(img.trustedExt4), { MountOptions: v('s', 'noatime') }), 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired');
  await stack.polkit.setRules(`
    polkit.addRule(function (action, subject) {
      if (action.id == "org.nsmount.mount-image-untrusted" && subject.user == "${alice.name}" &&
          action.lookup("trusted") == "false" && action.lookup("filesystems") === undefined &&
          action.lookup("read_only") == "true")
        return polkit.Result.YES;
    });`);
  try {
    const r = expectOk(t, await mountAs(alice, stack.address, fdArg(img.untrustedExt4, 'rw'), {}, {
      then: 'cat /proc/self/fd/$FD0/hello.txt',
    }));
    // Untrusted images default to read-only even through a writable fd.
    t.true(entries(r)[0][6]);
    t.is(thenOutput(t, r), 'hello from the image\n');
    // The rule names alice only.
    expectError(t, await mountAs(bob, stack.address, fdArg(img.untrustedExt4)), 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired');
    // ReadOnly=false changes the read_only detail, which the rule refuses.
    expectError(t, await mountAs(alice, stack.address, fdArg(img.untrustedExt4, 'rw'), { ReadOnly: v('b', false) }), 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired');
  } finally {
    await stack.polkit.setRules('');
  }
});

rootTest.serial('UserNamespace idmaps: on-disk uid 0 is uid 0 inside the namespace and BASE on the host', async (t) => {
  // The namespace fd is kept as fd 7 of the Mount client; its then-shell enters it through /proc/$PPID.
  const inner = [
    'stat -c %u /proc/self/fd/$FD0/hello.txt',
    'nsenter --user=/proc/$PPID/fd/7 stat -c %u /proc/self/fd/$FD0/hello.txt',
  ].join('; ');
  const mountCall = [
    process.execPath, CALL_CLIENT, '--address', `'${stack.address}'`, '--member', 'Mount', '--signature', "'ha{sv}'",
    '--body', `'${JSON.stringify([fdArg(img.trustedExt4), { UserNamespace: v('h', fdArg('/proc/self/fd/7')) }])}'`,
    '--then', `'${inner}'`,
  ].join(' ');
  const r = expectOk(t, await callAs(alice, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['mount-idmap', 0, {}], {
    then: `exec 7<&$FD0; ${mountCall}`,
  }));
  const base = r.body[1] as number;
  const nested = JSON.parse(thenOutput(t, r).trim().split('\n').pop()!);
  t.true(nested.ok, JSON.stringify(nested));
  t.is(nested.then.code, 0, nested.then.stderr);
  t.deepEqual(nested.then.stdout.trim().split('\n').map(Number), [base, 0]);
});

rootTest.serial('UserNamespace must be a namespace nsmountd allocated for the caller', async (t) => {
  // Her own initial namespace is not one nsmountd allocated.
  expectError(t, await mountAs(alice, stack.address, fdArg(img.trustedExt4), { UserNamespace: v('h', fdArg('/proc/self/ns/user')) }), 'WrongNamespace', /^options\.UserNamespace: /);
  expectError(t, await mountAs(alice, stack.address, fdArg(img.trustedExt4), { UserNamespace: v('h', fdArg('/proc/self/ns/net')) }), 'BadFileDescriptor', /net namespace/);
  expectError(t, await mountAs(alice, stack.address, fdArg(img.trustedExt4), { UserNamespace: v('h', fdArg(img.trustedExt4)) }), 'BadFileDescriptor', /regular file/);
});
