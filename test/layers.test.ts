// The layering the README describes, checked on the sources: D-Bus
// methods reach native code only through domain modules, domain code has
// no D-Bus imports, and the typed client does not reach the native library
// for what Node can do itself.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from './helpers/paths';

const SRC = path.join(PACKAGE_ROOT, 'src');

/** Every module each .ts file under src/<dir> imports, as written. */
function importsUnder(dir: string): Array<{ file: string; module: string }> {
  const found: Array<{ file: string; module: string }> = [];
  for (const name of fs.readdirSync(path.join(SRC, dir), { recursive: true }) as string[]) {
    if (!name.endsWith('.ts')) continue;
    const file = path.join(dir, name);
    const text = fs.readFileSync(path.join(SRC, file), 'utf8');
    for (const m of text.matchAll(/(?:from|import|require\()\s*'([^']+)'/g)) found.push({ file, module: m[1] });
  }
  return found;
}

const describe = (list: Array<{ file: string; module: string }>) => list.map((i) => `${i.file} imports ${i.module}`);

test('the files the checks read are there (so the checks can fail)', (t) => {
  t.true(importsUnder('methods').some((i) => i.module === '../bus/method'));
  t.true(importsUnder('idmap').some((i) => i.module.startsWith('../native/')));
});

test('src/methods reaches native code only through domain modules', (t) => {
  t.deepEqual(describe(importsUnder('methods').filter((i) => /(^|\/)native\//.test(i.module) || i.module === 'koffi')), []);
});

for (const dir of ['idmap', 'image', 'mounts', 'userns', 'registry']) {
  test(`src/${dir} (domain) has no D-Bus imports`, (t) => {
    t.deepEqual(describe(importsUnder(dir).filter((i) => i.module.startsWith('dbus-next') || /(^|\/)bus\//.test(i.module))), []);
  });
}
