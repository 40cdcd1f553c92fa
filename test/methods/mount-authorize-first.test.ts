// Mount asks polkit before libblkid reads an untrusted image, and what
// polkit is told holds: a path only where nsmountd's own mount namespace
// names that file, never with line breaks or escapes in it.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { runAsUser } from '../helpers/as-user';
import { CALL_CLIENT } from '../helpers/paths';
import { alice } from '../helpers/users';
import { makeExt4 } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';
import { makeImageDirs, place, fdArg, mountAs, expectOk, expectError, type ImageDirs } from './mount-fixture';
import type { CallResult } from '../helpers/call';

let dirs: ImageDirs;
let image: string;

test.before(async () => {
  if (rootSkipReason) return;
  dirs = makeImageDirs();
  image = place(makeExt4(dirs.base, 'unvetted.ext4', { sizeMiB: 8, files: { 'hello.txt': 'hello\n' } }), dirs.untrusted, alice);
});
const stack = useTestStack(() => ({ config: dirs.config }));
test.after.always(async () => {
  if (dirs) removeTree(dirs.base);
});

const LONG_AGO = new Date('2001-01-01T00:00:00Z');

/** relatime updates an atime older than the mtime on the next read, whoever reads. */
function backdateAtime(file: string): void {
  fs.utimesSync(file, LONG_AGO, fs.statSync(file).mtime);
}
const wasRead = (file: string) => fs.statSync(file).atimeMs !== LONG_AGO.getTime();

rootSerial('an untrusted image is not read before polkit agreed', async (t) => {
  backdateAtime(image);
  expectError(t, await mountAs(alice, stack.address, fdArg(image)), 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired', /mount-image-untrusted/);
  t.false(wasRead(image), 'libblkid read the image of a caller polkit had not authorized');
  // The same call, authorized (root skips polkit), does read it: the check above can see a read.
  const r = expectOk(t, await mountAs('root', stack.address, fdArg(image)));
  t.is(r.body.length, 1);
  t.true(wasRead(image));
});

async function withRules(rules: string, run: () => Promise<void>): Promise<void> {
  await stack.polkit.setRules(`polkit.addRule(function (action, subject) {
    if (action.id == "org.nsmount.mount-image-untrusted" && subject.user == "${alice.name}") { ${rules} }
  });`);
  try {
    await run();
  } finally {
    await stack.polkit.setRules('');
  }
}

/**
 * alice, in a mount namespace of her own (and her own uid, so that the
 * bus knows her), puts a copy of her image at
 * /srv/vetted/x.img (a tmpfs she mounted) and calls Mount with it.
 */
function mountFromOwnNamespace(): Promise<CallResult> {
  const body = JSON.stringify([{ $fd: 3 }, {}]);
  const script = [
    'set -e',
    'mount -t tmpfs vetted /srv',
    'mkdir /srv/vetted',
    `cp '${image}' /srv/vetted/x.img`,
    `exec 3</srv/vetted/x.img`,
    `exec '${process.execPath}' '${CALL_CLIENT}' --address '${stack.address}' --member Mount --signature 'ha{sv}' --body '${body}'`,
  ].join('\n');
  return runAsUser(alice, ['unshare', '--user', '--map-current-user', '--mount', '--keep-caps', 'sh', '-c', script]).then((r) => {
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (!line.startsWith('{')) throw new Error(`no reply: ${r.stdout}\n${r.stderr}`);
    const parsed = JSON.parse(line) as CallResult;
    if (!parsed.ok && parsed.name === 'client.Error') throw new Error(`client failed: ${r.stdout}\n${r.stderr}`);
    return parsed;
  });
}

rootSerial('a path the caller named in its own mount namespace does not pass a path rule', async (t) => {
  await withRules('if (action.lookup("image") == "/srv/vetted/x.img") return polkit.Result.YES;', async () => {
    expectError(t, await mountFromOwnNamespace(), 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired');
  });
  // What polkit is told instead: that the path is unverified, and the caller's name for it under its own key.
  await withRules(
    `if (action.lookup("image").indexOf("another mount namespace") >= 0 &&
         action.lookup("image_unverified_path") == "/srv/vetted/x.img" &&
         action.lookup("label") == "contents not read before authorization") return polkit.Result.YES;`,
    async () => {
      t.true(expectOk(t, await mountFromOwnNamespace()).ok);
    },
  );
});

rootSerial("a path nsmountd's namespace names is given as is, and with no line break in it", async (t) => {
  const evil = path.join(dirs.untrusted, 'evil\n-name.img');
  fs.copyFileSync(image, evil);
  fs.chownSync(evil, alice.uid, alice.gid);
  const shown = path.join(dirs.untrusted, 'evil\uFFFD-name.img');
  const check = async (file: string, expected: string) =>
    withRules(`if (action.lookup("image") == ${JSON.stringify(expected)} && action.lookup("image_unverified_path") === undefined) return polkit.Result.YES;`, async () => {
      t.true(expectOk(t, await mountAs(alice, stack.address, fdArg(file))).ok, file);
    });
  await check(image, image);
  await check(evil, shown);
});
