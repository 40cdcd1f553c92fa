// Mount's owner mode: a disk image whose files look like the caller's own,
// in one call, for a desktop user. The root directory's owner as stored in
// the image (root for a root-made image, the foreign root for a
// foreign-owned one) appears as the caller; the polkit action still
// follows trust alone.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v } from '../helpers/call';
import { runAsUser } from '../helpers/as-user';
import { alice } from '../helpers/users';
import { makeExt4, MiB } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';
import { ERR, expectError, expectOk, fdArg, makeImageDirs, mountAs, place, type ImageDirs } from './mount-fixture';
import { allowUntrustedImages } from '../helpers/polkit-rules';

const FOREIGN_ROOT = 2147352576;
const OVERFLOW_UID = 65534;

let dirs: ImageDirs;
let rootMade: string;
let foreignOwned: string;
let alicesOwn: string;
let targets = 0;

/** An ext4 image whose every file (the root directory included) belongs to `uid`. */
function ext4OwnedBy(name: string, uid: number): string {
  const content = path.join(dirs.base, `content-${name}`);
  fs.mkdirSync(path.join(content, 'docs'), { recursive: true });
  fs.writeFileSync(path.join(content, 'docs', 'note.txt'), 'hello\n');
  fs.writeFileSync(path.join(content, 'stranger.txt'), 'not yours\n');
  execFileSync('chown', ['-R', `${uid}:${uid}`, content]);
  fs.chownSync(path.join(content, 'stranger.txt'), 4242, 4242);
  const image = path.join(dirs.base, name);
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 16 * MiB);
  // mkfs.ext4 -d does not copy the root directory's owner; root_owner sets it.
  execFileSync('mkfs.ext4', ['-q', '-F', '-E', `root_owner=${uid}:${uid}`, '-d', content, image]);
  return image;
}

test.before(async () => {
  if (rootSkipReason) return;
  dirs = makeImageDirs();
  rootMade = place(makeExt4(dirs.base, 'root-made.ext4', { files: { 'docs/note.txt': 'hello\n' } }), dirs.trusted);
  foreignOwned = place(ext4OwnedBy('foreign.ext4', FOREIGN_ROOT), dirs.trusted);
  alicesOwn = place(ext4OwnedBy('alices.ext4', 0), dirs.untrusted, alice);
});
const stack = useTestStack(() => ({ config: dirs.config }));
test.after.always(async () => {
  if (dirs) removeTree(dirs.base);
});

function target(): string {
  const dir = path.join(dirs.untrusted, `mnt-${++targets}`);
  fs.mkdirSync(dir);
  fs.chownSync(dir, alice.uid, alice.gid);
  return dir;
}

const attachTo = (dir: string) => ({ AttachTo: v('h', { $fd: dir, mode: 'path-dir' }) });

async function listedSources(): Promise<Array<[string, string]>> {
  const r = await callAs(alice, stack.address, 'ListMounts', 'a{sv}', [{}]);
  if (!r.ok) throw new Error(r.message);
  return (r.body[0] as Array<[string, number, string, string]>).map((m) => [m[0], m[2]]);
}

rootSerial('a trusted root-made image in owner mode looks like the caller\'s, with no administrator', async (t) => {
  const mnt = target();
  expectOk(t, await mountAs(alice, stack.address, fdArg(rootMade), { Mode: v('s', 'owner'), ...attachTo(mnt) }));
  t.is(fs.statSync(path.join(mnt, 'docs/note.txt')).uid, alice.uid);
  t.is(fs.statSync(mnt).gid, alice.gid);
  t.deepEqual((await listedSources()).filter(([where]) => where === mnt), [[mnt, rootMade]], 'ListMounts names the image');
  // Opened read-only, as a user can only open a root-owned image: owner mode makes nothing writable.
  t.throws(() => fs.writeFileSync(path.join(mnt, 'new.txt'), 'x'), { code: 'EROFS' });
});

rootSerial('a foreign-owned image in owner mode: its foreign root appears as the caller, other ids as overflow', async (t) => {
  const mnt = target();
  expectOk(t, await mountAs(alice, stack.address, fdArg(foreignOwned), { Mode: v('s', 'owner'), ...attachTo(mnt) }));
  t.is(fs.statSync(path.join(mnt, 'docs/note.txt')).uid, alice.uid);
  t.is(fs.statSync(path.join(mnt, 'stranger.txt')).uid, OVERFLOW_UID);
});

rootSerial('identity mode (the default) still shows the ids as stored', async (t) => {
  const mnt = target();
  expectOk(t, await mountAs(alice, stack.address, fdArg(rootMade), attachTo(mnt)));
  t.is(fs.statSync(path.join(mnt, 'docs/note.txt')).uid, 0);
});

rootSerial('an untrusted image in owner mode still needs the administrator', async (t) => {
  expectError(t, await mountAs(alice, stack.address, fdArg(alicesOwn, 'rw'), { Mode: v('s', 'owner') }),
    'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired', /mount-image-untrusted/);
  await stack.polkit.setRules(allowUntrustedImages(alice));
  try {
    const mnt = target();
    expectOk(t, await mountAs(alice, stack.address, fdArg(alicesOwn, 'rw'), { Mode: v('s', 'owner'), ReadOnly: v('b', false), ...attachTo(mnt) }));
    // Her own image, opened read-write: she writes as herself, stored as the image's root owner.
    const wrote = await runAsUser(alice, ['sh', '-c', 'echo x > "$0/docs/mine.txt"', mnt]);
    t.is(wrote.code, 0, wrote.stderr);
    t.is(fs.statSync(path.join(mnt, 'docs/mine.txt')).uid, alice.uid);
  } finally {
    await stack.polkit.setRules('');
  }
});

rootSerial('owner mode with a UserNamespace, or an unknown mode, is an InvalidArgument', async (t) => {
  expectError(t, await mountAs(alice, stack.address, fdArg(rootMade), { Mode: v('s', 'owner'), UserNamespace: v('h', { $fd: '/proc/self/ns/user', mode: 'r' }) }),
    `${ERR}InvalidArgument`, /^options\.Mode: /);
  expectError(t, await mountAs(alice, stack.address, fdArg(rootMade), { Mode: v('s', 'mine') }), `${ERR}InvalidArgument`, /^options\.Mode: must be one of identity, owner/);
});
