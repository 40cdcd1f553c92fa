// The native seam has three descriptions of one interface: the prototypes
// in native/nsmount.h, the koffi prototypes in src/native/bindings.ts and
// the symbols the built library exports. These tests fail as soon as the
// three disagree: a function exported but not declared, declared but not
// bound, or bound with other argument types or directions.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type * as Bindings from '../../src/native/bindings';
import type * as FsMount from '../../src/native/fsmount';

// Loaded by the tests that need them, so that a function missing from the
// library fails those tests with koffi's message, and the comparisons that
// need no binding still run and name it.
const loadBindings = (): typeof Bindings => require('../../src/native/bindings');
const loadFsMount = (): typeof FsMount => require('../../src/native/fsmount');

const root = path.resolve(__dirname, '../../..');
const headerText = fs.readFileSync(path.join(root, 'native/nsmount.h'), 'utf8');
// Comments out, line continuations joined: one logical line per declaration.
const header = headerText.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\\\n/g, ' ');

/** Function name -> prototype in koffi's syntax (NSM_OUT is koffi's _Out_). */
function headerPrototypes(): Map<string, string> {
  const prototypes = new Map<string, string>();
  for (const match of header.matchAll(/^NSM_EXPORT\s+([^;]+);/gm)) {
    const prototype = match[1].replace(/\s+/g, ' ').replace(/\bNSM_OUT\b/g, '_Out_');
    const name = /(\w+)\s*\(/.exec(prototype)![1];
    prototypes.set(name, prototype);
  }
  return prototypes;
}

function exportedSymbols(): string[] {
  const out = execFileSync('nm', ['-D', '--defined-only', path.join(root, 'build/libnsmount.so')], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[2])
    .filter((name): name is string => name !== undefined);
}

interface KoffiType {
  primitive: string;
  ref?: KoffiType;
}
interface KoffiSignature {
  arguments: { type: KoffiType; direction: string }[];
  result: KoffiType;
}

function typeText(type: KoffiType): string {
  return type.ref ? `${type.primitive}(${typeText(type.ref)})` : type.primitive;
}

/** What a call depends on: result and argument types and directions, names left out. */
function signatureText(signature: KoffiSignature): string {
  const args = signature.arguments.map((arg) => `${arg.direction} ${typeText(arg.type)}`);
  return `${typeText(signature.result)} (${args.join(', ')})`;
}

function headerSignature(name: string, prototype: string): string {
  const { koffi } = loadBindings();
  // koffi keeps every prototype it parses by name: give the header's its own.
  const type = koffi.type(koffi.proto(prototype.replace(`${name}(`, `header_${name}(`)));
  return signatureText((type as unknown as { proto: KoffiSignature }).proto);
}

function boundSignature(name: string): string {
  const fn = (loadBindings() as unknown as Record<string, { info: KoffiSignature }>)[name];
  return signatureText(fn.info);
}

const sorted = (names: Iterable<string>) => new Set([...names].sort());

test('the library exports exactly the functions native/nsmount.h declares', (t) => {
  t.deepEqual(sorted(exportedSymbols()), sorted(headerPrototypes().keys()));
});

test('src/native/bindings.ts binds exactly the functions native/nsmount.h declares', (t) => {
  t.deepEqual(sorted(loadBindings().boundPrototypes().keys()), sorted(headerPrototypes().keys()));
});

test('every function of the header is used by a wrapper in src/native, so none is dead', (t) => {
  const dir = path.join(root, 'src/native');
  const wrappers = fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.ts') && name !== 'bindings.ts')
    .map((name) => fs.readFileSync(path.join(dir, name), 'utf8'))
    .join('\n')
    .replace(/^import [^;]*;$/gms, '');
  const unused = [...headerPrototypes().keys()].filter((name) => !new RegExp(`\\b${name}\\b`).test(wrappers));
  t.deepEqual(unused, []);
});

test('each binding has the argument and result types and directions of its header prototype', (t) => {
  const bound = loadBindings().boundPrototypes();
  const inHeader = new Map<string, string>();
  const inBindings = new Map<string, string>();
  for (const [name, prototype] of headerPrototypes()) {
    if (!bound.has(name)) continue; // the test above names it
    inHeader.set(name, headerSignature(name, prototype));
    inBindings.set(name, boundSignature(name));
  }
  t.true(inHeader.size > 0);
  t.deepEqual(inBindings, inHeader);
});

test('every numeric NSM_ constant of the header has the same value in bindings.ts, and no other', (t) => {
  const inHeader = new Map<string, number>();
  for (const match of header.matchAll(/^#define\s+(NSM_\w+)\s+(\d+)\s*$/gm)) inHeader.set(match[1], Number(match[2]));
  const inBindings = new Map<string, number>();
  for (const [name, value] of Object.entries(loadBindings())) {
    if (name.startsWith('NSM_') && typeof value === 'number') inBindings.set(name, value);
  }
  t.true(inHeader.size > 0);
  t.deepEqual(inBindings, inHeader);
});

function stepCount(list: string): number {
  const body = new RegExp(`#define ${list}\\(X\\)(.*)`).exec(header);
  if (!body) throw new Error(`${list} not found in native/nsmount.h`);
  return [...body[1].matchAll(/\bX\(/g)].length;
}

test('every user namespace step has words from native code, and only those', (t) => {
  const count = stepCount('NSM_USERNS_STEPS');
  t.true(count > 0);
  const { nsm_userns_step_name } = loadBindings();
  for (let step = 0; step < count; step++) t.truthy(nsm_userns_step_name(step), `step ${step}`);
  t.is(nsm_userns_step_name(count), null);
  t.is(nsm_userns_step_name(-1), null);
});

test('every fs mount step of native code is one src/native/fsmount.ts maps errors for', (t) => {
  const count = stepCount('NSM_FS_MOUNT_STEPS');
  t.true(count > 0);
  const { fsMountStep } = loadFsMount();
  const { nsm_fs_mount_step_name } = loadBindings();
  for (let step = 0; step < count; step++) t.truthy(fsMountStep(step), `step ${step}: ${nsm_fs_mount_step_name(step)}`);
  t.is(fsMountStep(count), undefined);
});

test('every mount lock step has words from native code, and only those', (t) => {
  const count = stepCount('NSM_LOCK_STEPS');
  t.true(count > 0);
  const { nsm_lock_step_name } = loadBindings();
  for (let step = 0; step < count; step++) t.truthy(nsm_lock_step_name(step), `step ${step}`);
  t.is(nsm_lock_step_name(count), null);
});
