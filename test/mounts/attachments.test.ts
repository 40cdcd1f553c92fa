// The attachment registry on the real kernel: detached clones of a tmpfs
// attached in the test's private mount namespace, recorded in a registry of
// the test's own.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import pino from 'pino';
import { Attachments } from '../../src/mounts/attachments';
import type { ChangeEvent } from '../../src/events/changes';
import { RegistryStore } from '../../src/registry/store';
import { AT_FDCWD, O_DIRECTORY, O_PATH, openAt } from '../../src/native/dirfd';
import { closeQuietly } from '../../src/native/fd';
import { openTreeClone } from '../../src/native/mount-api';
import { QuotaExceeded } from '../../src/errors';
import { removeTree } from '../helpers/cleanup';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { makeWorkDir } from '../helpers/work-dirs';

const OWNER = 61001;

let work: string;
let source: string;
let targets = 0;
test.before(() => {
  if (rootSkipReason) return;
  work = makeWorkDir('attachments');
  source = path.join(work, 'source');
  fs.mkdirSync(source);
  execFileSync('mount', ['-t', 'tmpfs', 'attachments-source', source]);
  fs.writeFileSync(path.join(source, 'hello.txt'), 'through the attachment\n');
});
test.after.always(() => {
  if (work) removeTree(work);
});

function registry(t: { teardown(fn: () => void): void }, limitPerUid = 2) {
  const store = new RegistryStore(fs.mkdtempSync(path.join(work, 'state-')));
  store.open();
  const changes: ChangeEvent[] = [];
  const attachments = new Attachments({ store, log: pino({ level: 'silent' }), limitPerUid, changes: (c) => changes.push(c) });
  const fds: number[] = [];
  t.teardown(() => fds.forEach(closeQuietly));
  /** Attaches a fresh clone of the source at a fresh directory (or `at`), as `ownerUid`. */
  const attach = (ownerUid = OWNER, at?: string) => {
    const target = at ?? path.join(work, `target-${targets++}`);
    if (!at) fs.mkdirSync(target);
    const sourceFd = openAt(AT_FDCWD, source, O_PATH | O_DIRECTORY);
    fds.push(sourceFd);
    const mountFd = openTreeClone(sourceFd, { recursive: false });
    fds.push(mountFd);
    const targetFd = openAt(AT_FDCWD, target, O_PATH);
    fds.push(targetFd);
    const record = attachments.attach({ mountFd, targetFd, targetPath: target, ownerUid, source, kind: 'directory' });
    return { record, target, mountFd };
  };
  return { attachments, store, changes, attach };
}

const isMountPoint = (dir: string) => fs.statSync(dir).dev !== fs.statSync(path.dirname(dir)).dev;

rootSerial('an attachment is recorded under its mount id and then attached', async (t) => {
  const { attachments, changes, attach } = registry(t);
  const { record, target } = attach();
  t.true(isMountPoint(target));
  t.is(fs.readFileSync(path.join(target, 'hello.txt'), 'utf8'), 'through the attachment\n');
  t.like(record, { target, ownerUid: OWNER, source, kind: 'directory' });
  t.true(BigInt(record.mountId) >= 2n ** 31n, 'a unique mount id, not the reusable legacy one');
  t.deepEqual(attachments.list({ ownerUid: OWNER }), [record]);
  t.deepEqual(attachments.find(BigInt(record.mountId)), record);
  t.deepEqual(changes, [{ kind: 'mount-added', ownerUid: OWNER, mountId: record.mountId }]);
});

rootSerial('an attachment that fails is not recorded and not announced', async (t) => {
  const { attachments, changes, attach } = registry(t);
  const file = path.join(work, `not-a-directory-${targets++}`);
  fs.writeFileSync(file, '');
  t.throws(() => attach(OWNER, file));
  t.deepEqual(attachments.list(), []);
  t.deepEqual(changes, []);
});

rootSerial('a user may hold only so many attachments; root is not limited', async (t) => {
  const { attachments, attach } = registry(t, 2);
  attach();
  attach();
  const target = path.join(work, `target-${targets}`);
  t.throws(() => attach(), { instanceOf: QuotaExceeded, message: /limit 2/ });
  t.false(isMountPoint(target), 'nothing was attached past the limit');
  t.is(attachments.list({ ownerUid: OWNER }).length, 2);
  attach(0);
  attach(0);
  attach(0);
  t.is(attachments.list({ ownerUid: 0 }).length, 3);
});

rootSerial('unmounted behind its back, an attachment is forgotten; moved, it is followed', async (t) => {
  const { attachments, changes, attach } = registry(t, 5);
  const gone = attach();
  const below = path.join(work, `above-${targets}`, 'mnt');
  fs.mkdirSync(below, { recursive: true });
  const moved = attach(OWNER, below);
  // Lazily: the test still holds an fd of that mount, as a caller might.
  execFileSync('umount', ['--lazy', gone.target]);
  const renamed = path.join(work, `renamed-${targets++}`);
  fs.renameSync(path.dirname(moved.target), renamed);
  t.deepEqual(attachments.reconcile(), { kept: 1, dropped: 1 });
  t.deepEqual(attachments.list().map((r) => r.target), [path.join(renamed, 'mnt')]);
  t.deepEqual(changes.slice(2), [{ kind: 'mount-removed', ownerUid: OWNER, mountId: gone.record.mountId }]);
});

rootSerial('withdraw detaches and forgets; remove forgets once', async (t) => {
  const { attachments, changes, attach } = registry(t);
  const taken = attach();
  attachments.withdraw(taken.record, taken.mountFd);
  t.false(isMountPoint(taken.target));
  t.deepEqual(attachments.list(), []);
  const kept = attach();
  t.true(attachments.remove(BigInt(kept.record.mountId)));
  t.false(attachments.remove(BigInt(kept.record.mountId)));
  t.deepEqual(
    changes.map((c) => c.kind),
    ['mount-added', 'mount-removed', 'mount-added', 'mount-removed'],
  );
});
