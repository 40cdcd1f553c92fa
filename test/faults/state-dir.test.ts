// The state directory full (ENOSPC) or read-only (EROFS). A call whose
// result must be recorded gets a System error that names the errno and the
// registry, and nothing is handed out unrecorded: no fd in a reply, no
// attached mount, no loop device. The registry on disk stays exactly what
// it was, and calls that record nothing keep working.
//
// The state directory is a small tmpfs mounted before the daemon starts,
// filled up by a file or covered by a read-only bind of itself per case.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs, v, type CallResult } from '../helpers/call';
import { holdNamespaces, type Holder } from '../helpers/holder';
import { alice } from '../helpers/users';
import { makeExt4, tempDir, waitForNoLoopDevicesUnder } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';
import { ERR, logEntries, mountsBelow, readRegistry } from './fixture';
import { errnoWords } from '../../src/errno-words';

let work: string;
let image: string;
/** The configured, trusted image directory. */
let images: string;
let home: string;
let holder: Holder;

test.before(async () => {
  if (rootSkipReason) return;
  work = tempDir('nsmountd-statedir-');
  fs.chmodSync(work, 0o755);
  images = path.join(work, 'images');
  fs.mkdirSync(images, { mode: 0o755 });
  image = makeExt4(work, 'full.ext4', { sizeMiB: 8, files: { 'hello.txt': 'x\n' } });
  fs.renameSync(image, (image = path.join(images, 'full.ext4')));
  home = path.join(work, 'alice');
  fs.mkdirSync(home);
  fs.chownSync(home, alice.uid, alice.gid);
});
test.after.always(async () => {
  await holder?.release();
});
const stack = useTestStack(() => ({ config: `[images]\ndirectories = [${JSON.stringify(images)}]\n`, daemon: false }));
test.before(async () => {
  if (rootSkipReason) return;
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0700', 'nsmountd-state', stack.stateDir]);
  await stack.daemon.start();
  // Something in the registry to lose: live namespaces and an attachment.
  holder = await holdNamespaces(alice, stack.address, ['before-1', 'before-2']);
  const attached = await callAs(alice, stack.address, 'IdmapDirectory', 'ha{sv}', [
    pathDir(aliceDir('kept-tree')),
    { Mode: v('s', 'identity'), AttachTo: v('h', pathDir(aliceDir('kept-target'))) },
  ]);
  if (!attached.ok || !holder.results.every((r) => r.ok)) throw new Error(`setup failed: ${JSON.stringify([attached, holder.results])}`);
});
test.after.always(async () => {
  if (work) {
    for (const m of mountsBelow('self', work).reverse()) execFileSync('umount', ['-l', m.mountPoint]);
    removeTree(work);
  }
});

const pathDir = (p: string) => ({ $fd: p, mode: 'path-dir' });

let dirCount = 0;
function aliceDir(name: string): string {
  const dir = path.join(home, `${name}-${dirCount++}`);
  fs.mkdirSync(dir);
  fs.chownSync(dir, alice.uid, alice.gid);
  return dir;
}

/** Every file of the state directory but the lock and the filler, with its text. */
function stateFiles(): Record<string, string> {
  return Object.fromEntries(
    fs
      .readdirSync(stack.stateDir)
      .filter((name) => name !== 'registry.lock' && name !== 'filler')
      .sort()
      .map((name) => [name, fs.readFileSync(path.join(stack.stateDir, name), 'utf8')]),
  );
}

/**
 * registry.json and registry.journal are byte for byte what they were
 * and parse; no temporary file is left. freed.log is appended to only
 * when a compaction folds the journal's frees into it, before the new
 * snapshot; a failed compaction may leave it appended to, and then only
 * with blocks the registry still lists: a block in use is never taken from
 * the log, and anything else appended would be a block handed out twice
 * later.
 */
function assertStateKept(t: ExecutionContext, before: Record<string, string>): void {
  const after = stateFiles();
  t.deepEqual(Object.keys(after), Object.keys(before), 'no file appeared or vanished');
  t.is(after['registry.json'], before['registry.json'], 'registry.json is unchanged');
  t.is(after['registry.journal'], before['registry.journal'], 'registry.journal is unchanged');
  const registry = readRegistry(stack.stateDir);
  const log = after['freed.log'] ?? '';
  const logBefore = before['freed.log'] ?? '';
  t.true(log.startsWith(logBefore), 'freed.log was only appended to');
  const inUse = new Set(registry.namespaces.map((n) => n.base));
  for (const line of log.slice(logBefore.length).split('\n').filter(Boolean)) {
    const m = /^(\d+) \d+ (\d+|-)$/.exec(line);
    t.truthy(m, `a malformed freed.log line: ${line}`);
    t.true(inUse.has(Number(m?.[1])), `freed.log frees block ${m?.[1]}, which the registry does not keep busy`);
  }
}

type Fault = 'full' | 'read-only';

const ERRNO: Record<Fault, string> = { full: 'ENOSPC', 'read-only': 'EROFS' };

/** Applies the fault; returns how to undo it. */
function inflict(fault: Fault): () => void {
  if (fault === 'read-only') {
    // remount,ro is refused (EBUSY) while the daemon holds registry.lock
    // open for writing; a read-only bind on top gives every path lookup
    // the daemon makes the EROFS a file system gone read-only would, while
    // its lock fd keeps working, as it would.
    execFileSync('mount', ['--bind', stack.stateDir, stack.stateDir]);
    execFileSync('mount', ['-o', 'remount,bind,ro', stack.stateDir]);
    return () => execFileSync('umount', [stack.stateDir]);
  }
  const filler = path.join(stack.stateDir, 'filler');
  const fd = fs.openSync(filler, 'w');
  try {
    // Large writes first, then page by page up to the last free byte.
    for (const size of [64 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size, 0x78);
      try {
        for (;;) fs.writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  // A full tmpfs still lets a file grow into the rest of its last page, so
  // an append-only file takes a short append. Fill those pages up too, with
  // newlines, which both logs skip as blank lines (as the daemon would
  // skip them after a restart): then no byte fits anywhere.
  for (const log of APPEND_ONLY) padToPage(path.join(stack.stateDir, log));
  return () => fs.rmSync(filler);
}

const APPEND_ONLY = ['registry.journal', 'freed.log'];
const PAGE = 4096;

function padToPage(file: string): void {
  if (!fs.existsSync(file)) return;
  const size = fs.statSync(file).size;
  if (size % PAGE === 0) return;
  fs.appendFileSync(file, '\n'.repeat(PAGE - (size % PAGE)));
}

interface WriterCase {
  what: string;
  call: () => Promise<CallResult>;
  /** What would be left had the daemon handed something out unrecorded. */
  leftBehind: () => unknown[];
  /** Undoes a successful call, so the next case starts clean. */
  undo?: () => Promise<void>;
}

async function unmountLastTarget(): Promise<void> {
  const r = await callAs(alice, stack.address, 'Unmount', 'ha{sv}', [pathDir(lastTarget), {}]);
  if (!r.ok) throw new Error(`Unmount ${lastTarget}: ${r.message}`);
}

let lastTarget = '';
let lastName = '';
let nameCount = 0;
const WRITERS: WriterCase[] = [
  {
    what: 'AllocateUserNamespace',
    call: () => callAs(alice, stack.address, 'AllocateUserNamespace', 'sua{sv}', [(lastName = `during-fault-${nameCount++}`), 0, {}]),
    leftBehind: () => readRegistry(stack.stateDir).namespaces.filter((n) => n.name === lastName),
  },
  {
    what: 'Mount with AttachTo',
    call: () => callAs(alice, stack.address, 'Mount', 'ha{sv}', [{ $fd: image, mode: 'r' }, { AttachTo: v('h', pathDir((lastTarget = aliceDir('mnt')))) }]),
    leftBehind: () => [...mountsBelow(stack.daemon.pid, lastTarget), ...fs.readdirSync(lastTarget)],
    undo: unmountLastTarget,
  },
  {
    what: 'IdmapDirectory with AttachTo',
    call: () =>
      callAs(alice, stack.address, 'IdmapDirectory', 'ha{sv}', [
        pathDir(aliceDir('tree')),
        { Mode: v('s', 'identity'), AttachTo: v('h', pathDir((lastTarget = aliceDir('idmapped')))) },
      ]),
    leftBehind: () => [...mountsBelow(stack.daemon.pid, lastTarget), ...fs.readdirSync(lastTarget)],
    undo: unmountLastTarget,
  },
];

const writerFails = test.macro({
  async exec(t: ExecutionContext, fault: Fault, c: WriterCase) {
    const undo = inflict(fault);
    // After inflicting: the padding of a full directory's logs is part of what must stay.
    const before = stateFiles();
    const logFrom = stack.daemon.logs.length;
    let r: CallResult;
    try {
      r = await c.call();
      t.deepEqual(c.leftBehind(), [], 'nothing handed out or left attached');
      t.deepEqual(await waitForNoLoopDevicesUnder(work), [], 'no loop device left');
      assertStateKept(t, before);
    } finally {
      undo();
    }
    if (r.ok) return t.fail(`the call succeeded with the registry unwritable: ${JSON.stringify(r.body)}`);
    t.is(r.name, `${ERR}System`);
    // The caller reads it in words; the call's log line keeps the file and the errno.
    t.regex(r.message, new RegExp(`^nsmountd could not save its records, because ${errnoWords(ERRNO[fault])}\\.`));
    const logged = logEntries(stack.daemon.logs, logFrom).find((e) => e.msg === 'call' && e.outcome === `${ERR}System`);
    t.regex(String(logged?.error), new RegExp(`registry.*${stack.stateDir.replace(/[/.]/g, '\\$&')}.*${ERRNO[fault]}`));
    // Once there is room again, the same call works: the failure left no stale state in the daemon.
    const again = await c.call();
    t.true(again.ok, again.ok ? '' : `${again.name}: ${again.message}`);
    await c.undo?.();
  },
  title: (_provided, fault: Fault, c: WriterCase) => `state directory ${fault}: ${c.what} fails with ${ERRNO[fault]} naming the registry and records nothing`,
});

for (const fault of ['full', 'read-only'] as const) {
  for (const c of WRITERS) rootSerial(writerFails, fault, c);
}

const readersWork = test.macro({
  async exec(t: ExecutionContext, fault: Fault) {
    const undo = inflict(fault);
    try {
      const made = await callAs(alice, stack.address, 'MakeDirectory', 'hsa{sv}', [pathDir(aliceDir('parent')), 'made', {}]);
      t.true(made.ok, made.ok ? '' : made.message);
      const list = await callAs(alice, stack.address, 'ListUserNamespaces', 'a{sv}', [{}]);
      if (!list.ok) return t.fail(list.message);
      const names = (list.body[0] as Array<[string]>).map((e) => e[0]);
      t.true(names.includes('before-1') && names.includes('before-2'), names.join(' '));
      const mounts = await callAs(alice, stack.address, 'ListMounts', 'a{sv}', [{}]);
      t.true(mounts.ok && (mounts.body[0] as unknown[]).length >= 1);
    } finally {
      undo();
    }
  },
  title: (_provided, fault: Fault) => `state directory ${fault}: calls that record nothing still work`,
});

rootSerial(readersWork, 'full');
rootSerial(readersWork, 'read-only');

rootSerial('state directory full: a restarted daemon comes up, says why it could not sweep, and serves what records nothing', async (t) => {
  // A namespace that is gone (its caller exited with the only fd), so the sweep at start has a block to free and must write.
  const gone = await callAs(alice, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['gone-before-restart', 0, {}]);
  t.true(gone.ok, gone.ok ? '' : gone.message);
  const logFrom = stack.daemon.logs.length;
  const undo = inflict('full');
  const before = stateFiles();
  try {
    await stack.daemon.restart();
    const list = await callAs(alice, stack.address, 'ListUserNamespaces', 'a{sv}', [{}]);
    t.true(list.ok && (list.body[0] as Array<[string]>).some((e) => e[0] === 'before-1'));
    const denied = await callAs(alice, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['after-restart', 0, {}]);
    t.like(denied, { ok: false, name: `${ERR}System` });
    const output = stack.daemon.logs.slice(logFrom);
    t.true(output.some((l) => /ENOSPC/.test(l) && /sweep|reclaim/.test(l)), output.join('\n'));
    t.false(output.some((l) => /^\s+at /.test(l) || l.includes('"stack":')), `a stack trace for an expected failure:\n${output.join('\n')}`);
    assertStateKept(t, before);
  } finally {
    undo();
  }
});

rootSerial('state directory read-only: ListMounts answers when it cannot forget a vanished attachment, and logs why', async (t) => {
  const target = aliceDir('vanishing');
  const attached = await callAs(alice, stack.address, 'IdmapDirectory', 'ha{sv}', [
    pathDir(aliceDir('vanishing-tree')),
    { Mode: v('s', 'identity'), AttachTo: v('h', pathDir(target)) },
  ]);
  if (!attached.ok) return t.fail(attached.message);
  execFileSync('umount', [target]); // behind the daemon's back: reconcile must write to forget it
  const logFrom = stack.daemon.logs.length;
  const undo = inflict('read-only');
  try {
    const mounts = await callAs(alice, stack.address, 'ListMounts', 'a{sv}', [{}]);
    t.true(mounts.ok, mounts.ok ? '' : mounts.message);
    const output = stack.daemon.logs.slice(logFrom);
    t.true(output.some((l) => l.includes('could not reconcile attachments') && l.includes('EROFS')), output.join('\n'));
  } finally {
    undo();
  }
  // Writable again: the record goes, as it would have.
  const after = await callAs(alice, stack.address, 'ListMounts', 'a{sv}', [{}]);
  t.true(after.ok && !(after.body[0] as Array<[string]>).some((m) => m[0] === target));
});
