// docs/CLIENTS.md's "Using the client from your own project", followed as
// a user would: a scratch project depends on this checkout through
// `npm install /path`, compiles the documented src/main.ts with the
// documented tsconfig.json (a fresh one, not ours), once as an ES module
// and once as CommonJS, and runs it as an unprivileged user against a test
// stack. The packed tarball is checked for what the client needs.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice } from '../helpers/users';
import { runAsUser } from '../helpers/as-user';
import { userDirectory } from '../helpers/user-dirs';
import { PACKAGE_ROOT } from '../helpers/paths';

function example(name: string): string {
  const text = fs.readFileSync(path.join(PACKAGE_ROOT, 'docs/CLIENTS.md'), 'utf8');
  const m = new RegExp('```\\w+ example=' + name + '\\n([\\s\\S]*?)```').exec(text);
  if (!m) throw new Error(`docs/CLIENTS.md has no example ${name}`);
  return m[1];
}

// npm and a whole tsc run take seconds alone, minutes on a loaded 2-core machine.
const SLOW_STEP_MS = 170_000;

const stack = useTestStack();

function chownTree(dir: string): void {
  execFileSync('chown', ['-R', '-h', `${alice.uid}:${alice.gid}`, dir]);
}

const project = test.macro<[string, string]>({
  async exec(t, type, expectedKind) {
    const dir = userDirectory(stack.baseDir, alice, `project-${type}`);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `scratch-${type}`, version: '1.0.0', private: true, type }));
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), example('project-tsconfig'));
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src/main.ts'), example('project-main'));
    chownTree(dir);
    const env = { HOME: dir, npm_config_cache: path.join(dir, '.npm'), npm_config_update_notifier: 'false' };

    // --no-bin-links: the checkout is root's here, and npm would chmod its bin/.
    const installed = await runAsUser(alice, ['npm', 'install', '--offline', '--ignore-scripts', '--no-bin-links', '--no-audit', '--no-fund', PACKAGE_ROOT], {
      env,
      cwd: dir,
      timeoutMs: SLOW_STEP_MS,
    });
    t.is(installed.code, 0, installed.stdout + installed.stderr);
    // The compiler and Node's types, as "npm install --save-dev" would
    // bring them (without a registry here; npm would prune them before).
    fs.mkdirSync(path.join(dir, 'node_modules/@types'), { recursive: true });
    fs.symlinkSync(path.join(PACKAGE_ROOT, 'node_modules/typescript'), path.join(dir, 'node_modules/typescript'));
    fs.symlinkSync(path.join(PACKAGE_ROOT, 'node_modules/@types/node'), path.join(dir, 'node_modules/@types/node'));
    chownTree(dir);
    const compiled = await runAsUser(alice, [process.execPath, path.join(dir, 'node_modules/typescript/bin/tsc'), '-p', dir], { env, cwd: dir, timeoutMs: SLOW_STEP_MS });
    t.is(compiled.code, 0, compiled.stdout + compiled.stderr);
    const ran = await runAsUser(alice, [process.execPath, path.join(dir, 'dist/main.js')], { env: { DBUS_SYSTEM_BUS_ADDRESS: stack.address }, cwd: dir });
    t.is(ran.code, 0, ran.stderr);
    t.is(ran.stdout, `${expectedKind} user 65536\ntyped error org.nsmount.NsMount1.Error.NameExists\n`);
  },
  title: (_p, type: string) => `the documented project builds and runs with "type": "${type}"`,
});
// One at a time: two compilers at once would only slow each other down.
rootTest.serial(project, 'module', 'ES module');
rootTest.serial(project, 'commonjs', 'CommonJS');

rootTest('the packed tarball carries the compiled client, its types and the native library', (t) => {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PACKAGE_ROOT, encoding: 'utf8' })) as Array<{
    files: Array<{ path: string }>;
  }>;
  const files = packed.files.map((f) => f.path);
  for (const needed of ['dist/src/client/index.js', 'dist/src/client/index.d.ts', 'build/libnsmount.so', 'package.json']) t.true(files.includes(needed), needed);
  t.false(files.some((f) => f.startsWith('dist/test/')));
});
