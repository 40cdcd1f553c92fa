// Every error a caller receives is a sentence a person can read: no
// syscall name, no errno name, no stack frame, no mount id; the argument or
// option key at fault is named where there is one. Called as a real client
// (a separate process as an unprivileged user), against the real daemon.
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v, type CallResult } from '../helpers/call';
import { removeTree } from '../helpers/cleanup';
import { alice } from '../helpers/users';
import { makeWorkDir, ownedDir } from '../helpers/work-dirs';
import { makeExt4, MiB } from '../helpers/images';
import { allowUntrustedImages } from '../helpers/polkit-rules';

const ERR = 'org.nsmount.NsMount1.Error.';
const ERRNO_NAMES = Object.keys(os.constants.errno);
// What the daemon calls into: none of it means anything to a person.
const SYSCALLS = /\b(open_tree|mount_setattr|move_mount|fsopen|fsconfig|fsmount|fspick|statmount|mkdirat|openat2?|fstat|ioctl|renameat2|name_to_handle_at|open_by_handle_at|unshare|setns|clone3?|blkid_\w+|F_SETLEASE)\b/;

let work: string;
let aliceDir: string;
let readOnlyDir: string;

test.after.always(async () => {
  if (readOnlyDir) execFileSync('umount', [readOnlyDir]);
  if (work) removeTree(work);
});
const stack = useTestStack({
  rules: allowUntrustedImages(alice),
});
test.before(async () => {
  if (rootSkipReason) return;
  work = makeWorkDir('error-messages');
  aliceDir = ownedDir(work, 'alice', alice);
  // A directory of alice's on a read-only mount (in the test's private mount namespace).
  readOnlyDir = ownedDir(work, 'read-only', alice);
  execFileSync('mount', ['--bind', readOnlyDir, readOnlyDir]);
  execFileSync('mount', ['-o', 'remount,bind,ro', readOnlyDir]);
});

interface Case {
  call: () => Promise<CallResult>;
  error: string;
  /** The argument or option key the message starts with, when the fault is one. */
  names?: string;
  /** What the message must say, in words. */
  says: RegExp;
}

const readable = test.macro({
  async exec(t: ExecutionContext, c: Case) {
    const r = await c.call();
    t.false(r.ok, 'the call should fail');
    if (r.ok) return;
    t.is(r.name, c.error.includes('.') ? c.error : ERR + c.error, r.message);
    t.regex(r.message, c.says);
    if (c.names) t.true(r.message.startsWith(`${c.names}: `), r.message);
    t.notRegex(r.message, SYSCALLS, 'no syscall name');
    for (const name of ERRNO_NAMES) t.notRegex(r.message, new RegExp(`\\b${name}\\b`), `no errno name (${name})`);
    t.notRegex(r.message, /\bat .+:\d+:\d+|\n/, 'no stack frame, one line');
    t.notRegex(r.message, /\bmount \d+|\d{6,}/, 'no mount id');
  },
  title: (title) => `a caller reads: ${title}`,
});

rootSerial('a read-only file system, in words', readable, {
  call: () => callAs(alice, stack.address, 'MakeDirectory', 'hsa{sv}', [{ $fd: readOnlyDir, mode: 'path-dir' }, 'tree', {}]),
  error: 'System',
  says: /^nsmountd could not complete the request, because the file system is read-only\. .*nsmountd log\.$/,
});
rootSerial('an unmount where nothing was attached', readable, {
  call: () => callAs(alice, stack.address, 'Unmount', 'ha{sv}', [{ $fd: aliceDir, mode: 'path-dir' }, {}]),
  error: 'NotFound',
  names: 'mount_point',
  says: /nsmountd did not attach anything there/,
});
rootSerial('an unknown option key', readable, {
  call: () => callAs(alice, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['demo', 0, { Colour: v('s', 'red') }]),
  error: 'InvalidArgument',
  names: 'options.Colour',
  says: /unknown option key/,
});
rootSerial("a Mode Mount does not know", readable, {
  call: () => callAs(alice, stack.address, 'Mount', 'ha{sv}', [{ $fd: makeExt4(aliceDir, 'mode.ext4'), mode: 'r' }, { Mode: v('s', 'foreign') }]),
  error: 'InvalidArgument',
  names: 'options.Mode',
  says: /must be one of identity, owner/,
});
rootSerial('a namespace name with a slash', readable, {
  call: () => callAs(alice, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['a/b', 0, {}]),
  error: 'InvalidArgument',
  names: 'name',
  says: /may only contain/,
});
rootSerial('an image the kernel cannot mount', readable, {
  call: () => {
    const image = makeExt4(aliceDir, 'truncated.ext4', { sizeMiB: 16 });
    fs.truncateSync(image, 4 * MiB);
    fs.chownSync(image, alice.uid, alice.gid);
    return callAs(alice, stack.address, 'Mount', 'ha{sv}', [{ $fd: image, mode: 'rw' }, { ReadOnly: v('b', false) }]);
  },
  error: 'BadImage',
  says: /^ext4 cannot mount .*: it looks damaged or is not a valid ext4 file system/,
});
rootSerial('a directory fd given where an image belongs', readable, {
  call: () => callAs(alice, stack.address, 'Mount', 'ha{sv}', [{ $fd: path.join(aliceDir), mode: 'dir' }, {}]),
  error: 'BadFileDescriptor',
  names: 'image',
  says: /expected a regular file or block device, got a directory/,
});
