// Runs every example of docs/CLIENTS.md as an unprivileged user against a
// test stack, so the documentation cannot drift from what works.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice } from '../helpers/users';
import { runAsUser, type RunResult } from '../helpers/as-user';
import { userDirectory } from '../helpers/user-dirs';
import { PACKAGE_ROOT } from '../helpers/paths';
import { makeExt4 } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';

interface Example {
  language: string;
  code: string;
}

function examples(): Map<string, Example> {
  const text = fs.readFileSync(path.join(PACKAGE_ROOT, 'docs/CLIENTS.md'), 'utf8');
  const found = new Map<string, Example>();
  for (const m of text.matchAll(/```(\w+) example=([\w-]+)\n([\s\S]*?)```/g)) found.set(m[2], { language: m[1], code: m[3] });
  return found;
}

const cleanups: Array<() => void> = [];
let workDir: string;
/** A trusted image for the desktop example. */
let image: string;
/** The configured, trusted image directory. */
let images: string;
test.before(async () => {
  if (rootSkipReason) return;
  images = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-docs-images-'));
  fs.chmodSync(images, 0o755);
  image = path.join(images, 'photos.ext4');
  fs.renameSync(makeExt4(images, 'built.ext4', { sizeMiB: 8, label: 'Photos', files: { 'photo.txt': 'a photo\n' } }), image);
  fs.chmodSync(image, 0o644);
});
const stack = useTestStack(() => ({ config: `[images]\ndirectories = [${JSON.stringify(images)}]\n` }));
test.before(async () => {
  if (rootSkipReason) return;
  cleanups.push(() => removeTree(images));
  workDir = userDirectory(stack.baseDir, alice, 'docs');
  // `import ... from 'nsmountd'` resolves to this checkout.
  fs.mkdirSync(path.join(workDir, 'node_modules'));
  fs.symlinkSync(PACKAGE_ROOT, path.join(workDir, 'node_modules/nsmountd'));
});
test.after.always(async () => {
  for (const cleanup of cleanups) cleanup();
});

async function runExample(name: string): Promise<RunResult> {
  const example = examples().get(name);
  if (!example) throw new Error(`docs/CLIENTS.md has no example ${name}`);
  const dir = userDirectory(stack.baseDir, alice, `docs-${name}`);
  const env = { DBUS_SYSTEM_BUS_ADDRESS: stack.address, DIR: dir, HOME: dir, IMAGE: image };
  switch (example.language) {
    case 'sh':
      return runAsUser(alice, ['sh', '-e', '-c', example.code], { env, cwd: workDir });
    case 'python':
      // The system python, which has python3-dbus (root's PATH may lead to another).
      return runAsUser(alice, ['/usr/bin/python3', '-c', example.code], { env, cwd: workDir });
    case 'ts': {
      const js = ts.transpileModule(example.code, {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      }).outputText;
      const file = path.join(workDir, `${name}.js`);
      fs.writeFileSync(file, js, { mode: 0o644 });
      return runAsUser(alice, [process.execPath, file], { env, cwd: workDir });
    }
    default:
      throw new Error(`no runner for ${example.language}`);
  }
}

rootTest('every example in docs/CLIENTS.md is covered here (project-* in client-project.test.ts)', (t) => {
  t.deepEqual([...examples().keys()].filter((name) => !name.startsWith('project-')).sort(), [
    'busctl-list',
    'gdbus-list',
    'gdbus-make-directory',
    'gio-desktop',
    'python-allocate',
    'typescript-client',
  ]);
  t.deepEqual([...examples().keys()].filter((name) => name.startsWith('project-')).sort(), ['project-main', 'project-tsconfig']);
});

rootTest('gdbus passes a directory fd with 3<path and the daemon creates a foreign-owned directory', async (t) => {
  const result = await runExample('gdbus-make-directory');
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, '(handle 0,)\n2147352576 750\n');
});

rootTest('gdbus lists user namespaces', async (t) => {
  const result = await runExample('gdbus-list');
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, '(@a(suuutt) [],)\n');
});

rootTest('python3 with dbus-python receives a namespace fd and passes a directory fd', async (t) => {
  const result = await runExample('python-allocate');
  t.is(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  t.regex(lines[0], /^namespace user base \d+ size 65536$/);
  t.is(lines[1], 'made 2147352576');
  t.true(lines.includes('listed from-python'));
});

rootTest('busctl calls and reads properties but cannot send an fd', async (t) => {
  const result = await runExample('busctl-list');
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, 'a(suuutt) 0\nu 2147352576\nbusctl cannot send fds\n');
  t.not(result.stderr, '');
});

rootTest('the TypeScript client example runs as written', async (t) => {
  const result = await runExample('typescript-client');
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, 'namespace user true\nidmapped 2147352576 number\ntyped error org.nsmount.NsMount1.Error.NameExists\n');
});

rootTest('a Gio desktop app mounts an image at ~/mnt as its own, lists it, unmounts it and sees the signals', async (t) => {
  for (let run = 1; run <= 2; run++) {
    // Twice: a flow the docs show must work again right after.
    const result = await runExample('gio-desktop');
    t.is(result.code, 0, result.stderr);
    t.is(
      result.stdout,
      "mounted root ext4 Photos read-only\nfiles ['lost+found', 'photo.txt'] mine\nlisted True photos.ext4 image:root\nsignals MountAdded MountRemoved\n",
      `run ${run}`,
    );
  }
});
