// import-tar beyond a plain tarball into a new directory: compressed
// archives, files that are not archives, and the README's sequence of
// "nsmountctl mkdir" first (missing parents included), then import-tar into
// the empty directory it made.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice } from '../helpers/users';
import { nsmountctl, isOneLineError } from '../helpers/nsmountctl';
import { userDirectory } from '../helpers/user-dirs';
import { buildRootfsTarball } from '../helpers/rootfs';

const FOREIGN = 2147352576;

let home: string;
let tarball: string;

const stack = useTestStack();
test.before(async () => {
  if (rootSkipReason) return;
  home = userDirectory(stack.baseDir, alice, 'alice-home');
  tarball = buildRootfsTarball(home);
  fs.chownSync(tarball, alice.uid, alice.gid);
});

function asAlice(file: string): string {
  fs.chownSync(file, alice.uid, alice.gid);
  return file;
}

const compressed = test.macro<[string, string[]]>({
  async exec(t, suffix, compressor) {
    const archive = path.join(home, `rootfs${suffix}`);
    fs.writeFileSync(archive, execFileSync(compressor[0], [...compressor.slice(1), '-c', tarball], { maxBuffer: 64 << 20 }));
    asAlice(archive);
    const dir = path.join(home, `from${suffix.replace(/\./g, '-')}`);
    const result = await nsmountctl(alice, stack.address, ['import-tar', archive, dir]);
    t.is(result.code, 0, result.stderr);
    const busybox = fs.statSync(path.join(dir, 'bin/busybox'));
    t.is(busybox.uid, FOREIGN);
    t.is(busybox.size, fs.statSync('/bin/busybox').size);
  },
  title: (_p, suffix: string) => `import-tar unpacks a ${suffix} archive`,
});
for (const [suffix, compressor] of [
  ['.tar.gz', ['gzip']],
  ['.tar.bz2', ['bzip2']],
  ['.tar.xz', ['xz']],
  ['.tar.zst', ['zstd', '-q']],
] as Array<[string, string[]]>) {
  rootTest(compressed, suffix, compressor);
}

rootTest('a file that is not a tar archive gets one clear sentence, and nothing is created', async (t) => {
  const notes = path.join(home, 'notes.txt');
  fs.writeFileSync(notes, 'just some text, long enough to be more than nothing\n'.repeat(20));
  asAlice(notes);
  const dir = path.join(home, 'from-notes');
  const result = await nsmountctl(alice, stack.address, ['import-tar', notes, dir]);
  t.is(result.code, 1);
  t.true(isOneLineError(result.stderr), result.stderr);
  t.is(result.stderr, `nsmountctl import-tar: ${notes} is not a tar archive (nor a gzip, bzip2, xz or zstd compressed one)\n`);
  t.false(fs.existsSync(dir));
});

rootTest("a damaged archive shows tar's own message, every line of it", async (t) => {
  const damaged = path.join(home, 'damaged.tar.gz');
  const whole = execFileSync('gzip', ['-c', tarball], { maxBuffer: 64 << 20 });
  fs.writeFileSync(damaged, whole.subarray(0, Math.floor(whole.length / 2)));
  asAlice(damaged);
  const result = await nsmountctl(alice, stack.address, ['import-tar', damaged, path.join(home, 'from-damaged')]);
  t.is(result.code, 1);
  t.true(isOneLineError(result.stderr), result.stderr);
  // gzip's complaint and tar's own conclusion, not only the last line.
  t.regex(result.stderr, /^nsmountctl import-tar: tar cannot read the gzip-compressed archive .*: .*unexpected end of file.*; .*Error/m);
});

rootTest('mkdir creates missing parents owned by the caller, and import-tar fills the empty directory it made', async (t) => {
  const dir = path.join(home, 'containers/debian');
  const made = await nsmountctl(alice, stack.address, ['mkdir', dir]);
  t.is(made.code, 0, made.stderr);
  t.is(fs.statSync(path.join(home, 'containers')).uid, alice.uid);
  t.is(fs.statSync(dir).uid, FOREIGN);
  const imported = await nsmountctl(alice, stack.address, ['import-tar', tarball, dir]);
  t.is(imported.code, 0, imported.stderr);
  t.is(fs.statSync(path.join(dir, 'bin/busybox')).uid, FOREIGN);
  // Now it is not empty: a second import would mix two trees.
  const again = await nsmountctl(alice, stack.address, ['import-tar', tarball, dir]);
  t.is(again.code, 1);
  t.regex(again.stderr, /already exists: import into a new directory, or an empty one made by "nsmountctl mkdir"/);
});

rootTest('mkdir --json prints the mode as an octal string', async (t) => {
  const result = await nsmountctl(alice, stack.address, ['mkdir', '--json', '--mode', '0750', path.join(home, 'json-made')]);
  t.is(result.code, 0, result.stderr);
  t.like(JSON.parse(result.stdout), { uid: FOREIGN, mode: '0750' });
});
