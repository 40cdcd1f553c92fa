// `npm run bench` is a flow the README shows: a small run of every section
// must finish and write its report. The numbers are not judged here (speed
// goals live in the bench itself), only that the bench still runs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { PACKAGE_ROOT } from '../helpers/paths';

rootTest('npm run bench runs every section and writes its report', async (t) => {
  t.timeout(300000);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-bench-smoke-'));
  try {
    // Its own private mount namespace, as from a shell: the bench installs
    // the test users over /etc itself, which must not touch this run's.
    const env = { ...process.env };
    delete env.NSMOUNTD_TEST_NAMESPACE;
    const args = ['scripts/bench.js', '--iterations', '5', '--throughput-calls', '32', '--cpu-calls', '32', '--scale', '10', '--out', path.join(out, 'latest.json')];
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, args, { cwd: PACKAGE_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d));
      child.stderr.on('data', (d: Buffer) => (output += d));
      child.on('close', (c) => resolve({ code: c, output }));
    });
    t.is(code, 0, output.slice(-4000));
    const report = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    for (const section of ['AllocateUserNamespace', 'IdmapDirectory', 'Mount', 'ListMounts']) t.regex(report, new RegExp(section));
    const results = JSON.parse(fs.readFileSync(path.join(out, 'latest.json'), 'utf8')) as { results: unknown[]; scale?: unknown };
    t.is(results.results.length, 3, 'one result per benchmark');
    t.truthy(results.scale, 'the scale section ran');
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
