import test, { ExecutionContext } from 'ava';
import { rootSerial } from '../helpers/root';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  createUserNamespace,
  readUserNamespaceMaps,
  CreateUserNamespaceOptions,
  IdMapEntry,
} from '../../src/native/userns';
import { namespaceOwnerUid, namespaceType } from '../../src/native/nsfs';
import { InvalidArgument, SystemError } from '../../src/errors';
import { koffi } from '../../src/native/bindings';

// Creating a namespace for another owner and writing its maps needs root
// (CAP_SETUID/CAP_SETGID in the initial user namespace).
const rootTest = rootSerial;

const OWNER = 61001;
const RANGE: IdMapEntry[] = [{ inside: 0, outside: 524288, count: 65536 }];

function options(overrides: Partial<CreateUserNamespaceOptions> = {}): CreateUserNamespaceOptions {
  return { ownerUid: OWNER, ownerGid: OWNER, uidMap: RANGE, gidMap: RANGE, ...overrides };
}

function withNamespace<T>(opts: CreateUserNamespaceOptions, use: (fd: number) => T): T {
  const fd = createUserNamespace(opts);
  try {
    return use(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs argv inside the namespace behind fd, passed to the child as its fd 3. */
function inNamespace(fd: number, argv: string[], opts: { asUid?: number } = {}): string {
  const nsenter = ['nsenter', '--user=/proc/self/fd/3', ...argv];
  const command =
    opts.asUid === undefined
      ? nsenter
      : ['setpriv', `--reuid=${opts.asUid}`, `--regid=${opts.asUid}`, '--clear-groups', ...nsenter];
  const r = spawnSync(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function mapLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => l.trim().split(/\s+/).join(' '));
}

/** Our children, in any state (a zombie included). */
function childPids(): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = fs.readFileSync(`/proc/${name}/status`, 'utf8');
      if (new RegExp(`^PPid:\\s+${process.pid}$`, 'm').test(status)) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

rootTest('the namespace is a user namespace owned by ownerUid', (t) => {
  withNamespace(options(), (fd) => {
    t.is(namespaceType(fd), 'user');
    t.is(namespaceOwnerUid(fd), OWNER);
  });
});

rootTest('ownerUid 0 makes a namespace owned by root', (t) => {
  withNamespace(options({ ownerUid: 0, ownerGid: 0 }), (fd) => {
    t.is(namespaceOwnerUid(fd), 0);
  });
});

rootTest('the maps are exactly as given, several lines included, and setgroups stays allow', (t) => {
  const gidMap = [
    { inside: 0, outside: 524288, count: 65536 },
    { inside: 65536, outside: OWNER, count: 1 },
  ];
  withNamespace(options({ gidMap }), (fd) => {
    t.deepEqual(mapLines(inNamespace(fd, ['cat', '/proc/self/uid_map'])), ['0 524288 65536']);
    t.deepEqual(mapLines(inNamespace(fd, ['cat', '/proc/self/gid_map'])), ['0 524288 65536', '65536 61001 1']);
    t.is(inNamespace(fd, ['cat', '/proc/self/setgroups']).trim(), 'allow');
  });
});

rootTest('the owner entering the namespace is uid 0 there', (t) => {
  withNamespace(options(), (fd) => {
    t.is(inNamespace(fd, ['id', '-u'], { asUid: OWNER }).trim(), '0');
  });
});

const rejectedByValidation = test.macro({
  exec(t: ExecutionContext, overrides: Partial<CreateUserNamespaceOptions>, argument: string) {
    const error = t.throws(() => createUserNamespace(options(overrides)), { instanceOf: InvalidArgument });
    t.is(error?.argument, argument);
  },
  title: (provided, _overrides, argument) => provided ?? `rejects a bad ${argument} before calling the kernel`,
});

test('negative inside', rejectedByValidation, { uidMap: [{ inside: -1, outside: 0, count: 1 }] }, 'uidMap[0].inside');
test('fractional outside', rejectedByValidation, { gidMap: [{ inside: 0, outside: 1.5, count: 1 }] }, 'gidMap[0].outside');
test('zero count', rejectedByValidation, { uidMap: [RANGE[0], { inside: 70000, outside: 0, count: 0 }] }, 'uidMap[1].count');
test('range past 2^32-2', rejectedByValidation, { uidMap: [{ inside: 0, outside: 0xffff0000, count: 65536 }] }, 'uidMap[0].count');
test('outside above 32 bits', rejectedByValidation, { gidMap: [{ inside: 0, outside: 2 ** 32, count: 1 }] }, 'gidMap[0].outside');
test('empty map', rejectedByValidation, { gidMap: [] }, 'gidMap');
test('owner (uid_t)-1', rejectedByValidation, { ownerUid: 0xffffffff }, 'ownerUid');

const rejectedByKernel = test.macro({
  exec(t: ExecutionContext, overrides: Partial<CreateUserNamespaceOptions>, operation: string) {
    const before = fs.readdirSync('/proc/self/fd').length;
    const error = t.throws(() => createUserNamespace(options(overrides)), { instanceOf: SystemError });
    t.is(error?.code, 'EINVAL');
    t.is(error?.message, `${operation}: EINVAL`);
    t.is(fs.readdirSync('/proc/self/fd').length, before);
    t.deepEqual(childPids(), []);
  },
  title: (provided, _overrides, operation) => provided ?? `the kernel's EINVAL names the step (${operation})`,
});

const overlapping = [
  { inside: 0, outside: 524288, count: 100 },
  { inside: 50, outside: 600000, count: 100 },
];
// Writing maps for another owner needs root.
rootTest('overlapping uid map', rejectedByKernel, { uidMap: overlapping }, 'write uid_map');
rootTest('overlapping gid map', rejectedByKernel, { gidMap: overlapping }, 'write gid_map');

rootTest('readUserNamespaceMaps returns the maps that were written', (t) => {
  const uidMap = [
    { inside: 0, outside: 524288, count: 1000 },
    { inside: 1000, outside: OWNER, count: 1 },
    { inside: 1001, outside: 525289, count: 64535 },
  ];
  withNamespace(options({ uidMap }), (fd) => {
    t.deepEqual(readUserNamespaceMaps(fd), { uidMap, gidMap: RANGE });
  });
});

rootTest('readUserNamespaceMaps refuses a namespace that is not a user namespace', (t) => {
  const fd = fs.openSync('/proc/self/ns/net', 'r');
  try {
    const error = t.throws(() => readUserNamespaceMaps(fd), { instanceOf: SystemError });
    t.is(error?.code, 'EINVAL');
  } finally {
    fs.closeSync(fd);
  }
});

rootTest('1000 namespaces leak no fd and leave no child', (t) => {
  const before = fs.readdirSync('/proc/self/fd').length;
  const times: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const start = process.hrtime.bigint();
    const fd = createUserNamespace(options());
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    fs.closeSync(fd);
  }
  t.is(fs.readdirSync('/proc/self/fd').length, before);
  t.deepEqual(childPids(), []);
  times.sort((a, b) => a - b);
  t.log(`createUserNamespace: median ${times[500].toFixed(3)} ms, p99 ${times[990].toFixed(3)} ms`);
});

const prctl = koffi.load('libc.so.6').func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)');
const PR_GET_DUMPABLE = 3;

rootTest('readUserNamespaceMaps leaves the process dumpable', (t) => {
  // setns into a namespace owned by someone else marks the shared mm
  // non-dumpable, as createUserNamespace's setresuid does.
  t.is(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
  withNamespace(options(), (fd) => {
    t.is(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
    readUserNamespaceMaps(fd);
    t.is(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
  });
});

// systemd/nsmountd.service keeps exactly these; CAP_SYS_PTRACE is not among them.
const UNIT_CAPS = ['sys_admin', 'setuid', 'setgid', 'chown', 'fowner', 'dac_override', 'dac_read_search'];
const CAP_SYS_PTRACE = 19n;

rootTest('root without CAP_SYS_PTRACE creates and reads namespaces', (t) => {
  const script = String.raw`
    const fs = require('node:fs');
    const { createUserNamespace, readUserNamespaceMaps } = require(${JSON.stringify(path.resolve(__dirname, '../../src/native/userns.js'))});
    const { namespaceOwnerUid } = require(${JSON.stringify(path.resolve(__dirname, '../../src/native/nsfs.js'))});
    const field = (file, name) =>
      fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(name + ':')).split(/\s+/)[1];
    const caps = {};
    for (const set of ['CapPrm', 'CapEff', 'CapBnd']) caps[set] = field('/proc/self/status', set);
    const range = [{ inside: 0, outside: 524288, count: 65536 }];
    const fd = createUserNamespace({ ownerUid: ${OWNER}, ownerGid: ${OWNER}, uidMap: range, gidMap: range });
    const cloexec = (parseInt(field('/proc/self/fdinfo/' + fd, 'flags'), 8) & 0o2000000) !== 0;
    const result = { euid: process.geteuid(), caps, owner: namespaceOwnerUid(fd), cloexec, maps: readUserNamespaceMaps(fd) };
    fs.closeSync(fd);
    process.stdout.write(JSON.stringify(result));
  `;
  const r = spawnSync(
    'setpriv',
    [`--bounding-set=-all,${UNIT_CAPS.map((c) => `+${c}`).join(',')}`, '--inh-caps=-all', '--ambient-caps=-all', '--', process.execPath, '-e', script],
    { encoding: 'utf8' },
  );
  t.is(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  t.is(result.euid, 0);
  for (const [set, hex] of Object.entries(result.caps as Record<string, string>)) {
    t.is((BigInt(`0x${hex}`) >> CAP_SYS_PTRACE) & 1n, 0n, `${set} still has CAP_SYS_PTRACE`);
  }
  t.is(result.owner, OWNER);
  t.true(result.cloexec);
  t.deepEqual(result.maps, { uidMap: RANGE, gidMap: RANGE });
});
