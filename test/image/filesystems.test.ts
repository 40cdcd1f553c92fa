import test, { type ExecutionContext } from 'ava';
import { InvalidArgument, UnsupportedFileSystem } from '../../src/errors';
import { FILESYSTEMS, fileSystemFor, parseMountOptions, resolveMountOptions } from '../../src/image/filesystems';

function fsNamed(name: string) {
  const fs = FILESYSTEMS.get(name);
  if (!fs) throw new Error(`no ${name}`);
  return fs;
}

const accepts = test.macro({
  exec(t: ExecutionContext, fstype: string, text: string, readOnly: boolean, fsOptions: string[]) {
    const resolved = resolveMountOptions(parseMountOptions(text), fsNamed(fstype), { readOnly });
    t.deepEqual(resolved.fsOptions, fsOptions);
  },
  title: (provided, fstype: string, text: string, readOnly: boolean) =>
    `${fstype} ${readOnly ? 'ro' : 'rw'} accepts ${JSON.stringify(text)} ${provided ?? ''}`,
});

test(accepts, 'ext4', '', false, ['errors=remount-ro']);
test(accepts, 'ext4', '', true, ['errors=remount-ro', 'norecovery']);
test(accepts, 'ext3', 'commit=5,nodelalloc', false, ['commit=5', 'nodelalloc', 'errors=remount-ro']);
test(accepts, 'ext4', 'errors=remount-ro', false, ['errors=remount-ro']);
test(accepts, 'xfs', '', true, ['norecovery']);
test(accepts, 'xfs', 'nouuid', true, ['nouuid', 'norecovery']);
test(accepts, 'btrfs', 'compress=zstd:3,subvol=@home', false, ['compress=zstd:3', 'subvol=@home']);
test(accepts, 'btrfs', '', true, ['rescue=nologreplay']);
test(accepts, 'erofs', 'noatime,lazytime', true, ['lazytime']);
test(accepts, 'squashfs', 'noexec', true, []);

const refuses = test.macro({
  exec(t: ExecutionContext, fstype: string, text: string, readOnly: boolean, fragment: string) {
    const error = t.throws(() => resolveMountOptions(parseMountOptions(text), fsNamed(fstype), { readOnly }), {
      instanceOf: InvalidArgument,
    });
    t.is(error?.argument, 'options.MountOptions');
    t.true(error?.message.includes(fragment), error?.message);
  },
  title: (provided, fstype: string, text: string) => `${fstype} refuses ${JSON.stringify(text)} ${provided ?? ''}`,
});

test(refuses, 'ext4', 'errors=panic', false, 'remount-ro');
test(refuses, 'ext4', 'noload', true, 'not allowed for ext4');
test(refuses, 'ext4', 'commit=5\nerrors=panic', false, 'control characters');
test(refuses, 'ext4', 'commit=5\0', false, 'control characters');
test(refuses, 'ext4', 'commit=5,,noatime', false, 'stray comma');
test(refuses, 'ext4', 'commit=0', false, 'integer from 1');
test(refuses, 'ext4', 'commit=5,commit=6', false, 'given twice');
test(refuses, 'ext4', 'noatime,relatime', false, 'conflicts');
test(refuses, 'ext4', 'ro', false, 'ReadOnly option');
test(refuses, 'ext4', 'Commit=5', false, 'malformed option name');
test(refuses, 'ext4', 'noatime=1', false, 'takes no value');
test(refuses, 'ext4', 'data', false, 'needs a value');
test(refuses, 'xfs', 'nouuid', false, 'read-only mount');
test(refuses, 'btrfs', 'subvol=a b', false, 'subvolume path');
test(refuses, 'btrfs', 'compress=zstd:99', false, 'not valid for zstd');
test(refuses, 'btrfs', 'device=/dev/sda', false, 'not allowed for btrfs');
test(refuses, 'squashfs', 'errors=panic', true, 'not allowed for squashfs');

test('ext2 and ext3 go through the ext4 driver', (t) => {
  t.is(fileSystemFor('ext2', 'x').driver, 'ext4');
  t.is(fileSystemFor('ext3', 'x').driver, 'ext4');
});

test('a recognized filesystem outside the allowlist is named in the error', (t) => {
  const error = t.throws(() => fileSystemFor('crypto_LUKS', 'partition 2 (home)'), { instanceOf: UnsupportedFileSystem });
  t.regex(error?.message ?? '', /partition 2 \(home\) holds crypto_LUKS/);
});

test('squashfs and erofs are always read-only', (t) => {
  t.true(fsNamed('squashfs').alwaysReadOnly);
  t.true(fsNamed('erofs').alwaysReadOnly);
  t.false(fsNamed('ext4').alwaysReadOnly);
});
