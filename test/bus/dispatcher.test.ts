// The dispatcher on its own: a real bus and polkitd (no nsmountd), and a
// probe method in place of the real ones, so each step can be made to fail
// and the order, the error mapping and the closing of fds are what is
// checked. Calls come from test users' processes through the call client.
import test from 'ava';
import { Writable } from 'node:stream';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type dbus from 'dbus-next';
import { Dispatcher } from '../../src/bus/dispatcher';
import { CallerDirectory } from '../../src/bus/caller';
import { Introspection } from '../../src/bus/introspection';
import { connectBus } from '../../src/bus/connection';
import { parseOptions } from '../../src/bus/options';
import type { AnyMethodDefinition } from '../../src/bus/method';
import { PolkitAuthority, type Authority } from '../../src/polkit/authority';
import { BadFileDescriptor, InvalidArgument, NotOwner, NotSupported, SystemError } from '../../src/errors';
import { Errno } from '../../src/native/errno';
import { safeDisconnect } from '../../src/stack/bus-connection';
import { callAs, v, type CallResult } from '../helpers/call';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { SERVICE_NAME } from '../helpers/paths';
import { alice, dave, type TestUser } from '../helpers/users';

const ERR = 'org.nsmount.NsMount1.Error.';
const ACTION = 'org.nsmount.allocate-user-namespace';

const stack = useTestStack({
  daemon: false,
  rules: `polkit.addRule(function (action, subject) {
    if (action.id.indexOf("org.nsmount.") == 0 && subject.user == "${dave.name}") return polkit.Result.NO;
  });`,
});

/** The steps each call went through, in order. */
let trace: string[] = [];
const logLines: string[] = [];
let service: dbus.MessageBus;
let files: string;
let replyFile: string;

type Step = 'parse' | 'checkFds' | 'chooseAction' | 'act';
const failures: Record<string, () => Error> = {
  parse: () => new InvalidArgument('name', 'the probe refuses it'),
  checkFds: () => new BadFileDescriptor('directory', 'the probe refuses it'),
  chooseAction: () => new NotSupported('the probe refuses it'),
  act: () => new NotOwner('the probe refuses it'),
  'act-unexpected': () => new Error('a secret detail at /var/lib/probe'),
  'act-system': () => new SystemError(-Errno.ENOSPC, 'write /var/lib/probe', { task: 'save its records' }),
};

function failAt(step: Step, fail: string | undefined): void {
  trace.push(step);
  if (fail?.startsWith(step)) throw failures[fail]();
}

/** Takes the place of IdmapDirectory (ha{sv}), which the bus policy lets callers pass an fd to. */
const probe: AnyMethodDefinition = {
  name: 'IdmapDirectory',
  inSignature: 'ha{sv}',
  outSignature: 'h',
  parse([fd, options]: unknown[]) {
    const { Fail } = parseOptions(options, { Fail: 's' });
    failAt('parse', Fail);
    return { fd: fd as number, fail: Fail };
  },
  checkFds(params: { fd: number; fail?: string }) {
    failAt('checkFds', params.fail);
    return { size: fs.fstatSync(params.fd).size };
  },
  chooseAction(params: { fail?: string }, _ctx: unknown, checked: { size: number }) {
    failAt('chooseAction', params.fail);
    return { action: ACTION, details: { size: String(checked.size) } };
  },
  act(params: { fail?: string }) {
    failAt('act', params.fail);
    const fd = fs.openSync(replyFile, 'r');
    return { signature: 'h', body: [fd], ownedFds: [fd] };
  },
  release() {
    trace.push('release');
  },
};

test.before(async () => {
  if (rootSkipReason) return;
  files = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-dispatcher-'));
  fs.chmodSync(files, 0o755);
  replyFile = path.join(files, 'reply');
  fs.writeFileSync(replyFile, 'the reply\n', { mode: 0o644 });
  service = await connectBus({ address: stack.address });
  const polkit = new PolkitAuthority(service);
  const authority: Authority = {
    async check(request) {
      const result = await polkit.check(request);
      trace.push(`authorize: ${result.kind}`);
      return result;
    },
  };
  const log = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) }));
  const dispatcher = new Dispatcher({
    bus: service,
    methods: [probe],
    introspection: Introspection.fromContractFile(),
    properties: { all: () => ({}) },
    authority,
    callers: new CallerDirectory(service),
    log,
    machineId: () => '0123456789abcdef0123456789abcdef',
  });
  dispatcher.attach();
  if ((await service.requestName(SERVICE_NAME, 0x4)) !== 1) throw new Error(`could not own ${SERVICE_NAME}`);
});
test.after.always(() => {
  if (service) safeDisconnect(service);
  if (files) fs.rmSync(files, { recursive: true, force: true });
});

/** This process's fds open on `file`: the ones the dispatcher received and has not closed. */
function fdsOpenOn(file: string): string[] {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  });
}

let passed = 0;
/** Calls the probe as `user`, passing a file of its own; returns the reply and the steps it went through. */
async function callProbe(user: TestUser | 'root', options: object, opts: { member?: string; signature?: string } = {}) {
  const file = path.join(files, `passed-${passed++}`);
  fs.writeFileSync(file, 'passed\n', { mode: 0o644 });
  trace = [];
  const result: CallResult = await callAs(user, stack.address, opts.member ?? 'IdmapDirectory', opts.signature ?? 'ha{sv}', [{ $fd: file, mode: 'r' }, options]);
  return { result, steps: trace, leftOpen: fdsOpenOn(file) };
}

rootSerial('a call runs parse, checkFds, chooseAction, polkit, act, release in that order, and its fds are closed', async (t) => {
  const { result, steps, leftOpen } = await callProbe(alice, {});
  t.true(result.ok, JSON.stringify(result));
  if (result.ok) t.is(result.fds[0].readlink, replyFile);
  t.deepEqual(steps, ['parse', 'checkFds', 'chooseAction', 'authorize: authorized', 'act', 'release']);
  t.deepEqual(leftOpen, []);
  t.deepEqual(fdsOpenOn(replyFile), [], 'the reply fd it owned was closed once sent');
});

rootSerial('root skips polkit', async (t) => {
  const { result, steps } = await callProbe('root', {});
  t.true(result.ok, JSON.stringify(result));
  t.deepEqual(steps, ['parse', 'checkFds', 'chooseAction', 'act', 'release']);
});

const stopsAt = test.macro({
  async exec(t, user: TestUser, options: object, expected: { steps: string[]; name: string; message: RegExp }) {
    const { result, steps, leftOpen } = await callProbe(user, options);
    t.false(result.ok, 'the call should fail');
    if (!result.ok) {
      t.is(result.name, expected.name.includes('.') ? expected.name : ERR + expected.name);
      t.regex(result.message, expected.message);
    }
    t.deepEqual(steps, expected.steps);
    t.deepEqual(leftOpen, [], 'the fd passed in was closed');
  },
  title: (provided) => `a call refused ${provided}: later steps do not run, the error is mapped, the fd is closed`,
});

const RELEASED = ['release'];
rootSerial('by strict a{sv} (an unknown key)', stopsAt, alice, { Bogus: v('s', 'x') }, { steps: [], name: 'InvalidArgument', message: /^options\.Bogus: unknown option key/ });
rootSerial('by strict a{sv} (a key of the wrong type)', stopsAt, alice, { Fail: v('u', 1) }, { steps: [], name: 'InvalidArgument', message: /^options\.Fail: expected a variant of type 's', got 'u'/ });
rootSerial('in parse', stopsAt, alice, { Fail: v('s', 'parse') }, { steps: ['parse'], name: 'InvalidArgument', message: /^name: the probe refuses it/ });
rootSerial('in checkFds', stopsAt, alice, { Fail: v('s', 'checkFds') }, { steps: ['parse', 'checkFds', ...RELEASED], name: 'BadFileDescriptor', message: /^directory: the probe/ });
rootSerial('in chooseAction', stopsAt, alice, { Fail: v('s', 'chooseAction') }, { steps: ['parse', 'checkFds', 'chooseAction', ...RELEASED], name: 'NotSupported', message: /the probe/ });
rootSerial('by polkit', stopsAt, dave, {}, {
  steps: ['parse', 'checkFds', 'chooseAction', 'authorize: denied', ...RELEASED],
  name: 'NotAuthorized',
  message: new RegExp(ACTION.replace(/\./g, '\\.')),
});
rootSerial('in act', stopsAt, alice, { Fail: v('s', 'act') }, { steps: ['parse', 'checkFds', 'chooseAction', 'authorize: authorized', 'act', ...RELEASED], name: 'NotOwner', message: /the probe/ });
rootSerial('in act by a system error', stopsAt, alice, { Fail: v('s', 'act-system') }, {
  steps: ['parse', 'checkFds', 'chooseAction', 'authorize: authorized', 'act', ...RELEASED],
  name: 'System',
  message: /^nsmountd could not save its records, because /,
});

rootSerial('an unexpected failure answers System without its detail, and logs the detail', async (t) => {
  logLines.length = 0;
  const { result, leftOpen } = await callProbe(alice, { Fail: v('s', 'act-unexpected') });
  t.false(result.ok);
  if (!result.ok) {
    t.is(result.name, `${ERR}System`);
    t.is(result.message, 'internal error; see the nsmountd log');
  }
  t.deepEqual(leftOpen, []);
  t.true(logLines.some((line) => line.includes('a secret detail at /var/lib/probe')), logLines.join(''));
});

const refusedByBus = test.macro({
  async exec(t, member: string, signature: string, name: string, message: RegExp) {
    const body = signature === 'h' ? [] : [{}];
    trace = [];
    const file = path.join(files, `passed-${passed++}`);
    fs.writeFileSync(file, 'passed\n', { mode: 0o644 });
    const result = await callAs(alice, stack.address, member, signature, [{ $fd: file, mode: 'r' }, ...body]);
    t.false(result.ok);
    if (!result.ok) {
      t.is(result.name, name);
      t.regex(result.message, message);
    }
    t.deepEqual(trace, [], 'no step of the probe ran');
    t.deepEqual(fdsOpenOn(file), [], 'the fd passed in was closed');
  },
  title: (provided) => `${provided}: answered by the dispatcher, the fd closed`,
});

rootSerial('a wrong signature', refusedByBus, 'IdmapDirectory', 'h', 'org.freedesktop.DBus.Error.InvalidArgs', /takes signature 'ha\{sv\}', got 'h'/);
rootSerial('a member nobody serves', refusedByBus, 'Mount', 'ha{sv}', 'org.freedesktop.DBus.Error.UnknownMethod', /no method Mount/);
