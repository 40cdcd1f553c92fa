// `npm run bench`: brings up the private stack (scripts/bench.js has put us
// in a private mount namespace with test users and a tmpfs TMPDIR), runs
// every benchmark, prints tables and ratios, and writes
// bench/results/latest.json, report.md and latency.svg.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startTestStack } from '../test/helpers/stack';
import { BUS_POLICY, PACKAGE_ROOT } from '../test/helpers/paths';
import { measureScale, renderScale, scaleTargets, type ScaleReport } from './report/scale';
import { alice, bob } from '../test/helpers/users';
import { makeExt4 } from '../test/helpers/images';
import { FRESH_IDLE, idleRss } from './report/idle-rss';
import { benchAllocateUserNamespace } from './allocate-user-namespace';
import { benchMount } from './mount';
import { benchIdmapDirectory } from './idmap-directory';
import { formatResult, type BenchContext, type BenchResult } from './harness';
import { measureReport } from './report/measure';
import { renderMarkdown, formatTarget } from './report/markdown';
import { renderSvg } from './report/svg';
import type { ReportData } from './report/types';

type Bench = (ctx: BenchContext) => Promise<BenchResult>;

export const BENCHMARKS: Record<string, Bench> = {
  'allocate-user-namespace': benchAllocateUserNamespace,
  mount: benchMount,
  'idmap-directory': benchIdmapDirectory,
};
/** The per-method report (every method, root and unprivileged, daemon CPU, throughput, RSS); `--only report`. */
const REPORT = 'report';
/** Empty registry vs 1500 namespaces + 1500 attachments; `--only scale`. */
const SCALE = 'scale';

/** A root-owned image in a directory the daemon is configured to trust, so unprivileged Mount needs no admin. */
function trustedImage(): { dir: string; image: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-bench-images-'));
  fs.chmodSync(dir, 0o755);
  const image = makeExt4(dir, 'report.ext4', { sizeMiB: 16, files: { 'hello.txt': 'bench\n' } });
  fs.chmodSync(image, 0o644);
  return { dir, image };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '300' },
      'throughput-calls': { type: 'string', default: '3200' },
      'cpu-calls': { type: 'string', default: '1500' },
      /** Live namespaces and attachments (each) of the scale benchmark's second measurement. */
      scale: { type: 'string', default: '1500' },
      only: { type: 'string' },
      out: { type: 'string' },
      /** Write the daemon's V8 CPU profile (node --cpu-prof) into this directory when it exits. */
      profile: { type: 'string' },
    },
  });
  const wanted = (name: string) => !values.only || values.only.split(',').includes(name);
  const images = trustedImage();
  const stack = await startTestStack({
    config:
      `[pool]\nquota_per_uid = 100000\n[mounts]\nattachments_per_uid = 100000\n` +
      `[images]\ndirectories = [${JSON.stringify(images.dir)}]\n`,
    // The service's default, not the tests' debug: every call logs a line at info.
    logLevel: 'info',
    // nsmountd's policy, and the fixture's name for the bare dbus-next server of the same run.
    policyFiles: [BUS_POLICY, path.join(PACKAGE_ROOT, 'test/fixtures/org.nsmount.StackTest.conf')],
    daemonNodeArgs: values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : [],
  });
  // Fresh idle: the daemon has answered nothing yet but its start-up.
  const idle = await idleRss(stack.daemon.pid, FRESH_IDLE);
  const scratchDir = fs.mkdtempSync(path.join(stack.baseDir, 'scratch-'));
  const ctx: BenchContext = {
    address: stack.address,
    iterations: Number(values.iterations),
    users: { alice, bob },
    scratchDir,
  };
  const results: BenchResult[] = [];
  let report: ReportData | undefined;
  let scale: ScaleReport | undefined;
  try {
    for (const [name, bench] of Object.entries(BENCHMARKS)) {
      if (!wanted(name)) continue;
      const result = await bench(ctx);
      results.push(result);
      process.stdout.write(formatResult(result) + '\n');
    }
    if (wanted(REPORT)) {
      report = await measureReport(
        { ...ctx, daemonPid: stack.daemon.pid, idle, trustedImage: images.image, throughputCalls: Number(values['throughput-calls']), cpuCalls: Number(values['cpu-calls']) },
        (line) => process.stdout.write(`report: ${line}\n`),
      );
    }
    // Last: it leaves thousands of registry records and mounts behind until the stack stops.
    if (wanted(SCALE)) {
      scale = await measureScale(
        { address: stack.address, daemonPid: stack.daemon.pid, scratchDir, users: { alice, bob }, calls: Number(values['cpu-calls']), size: Number(values.scale) },
        (line) => process.stdout.write(`scale: ${line}\n`),
      );
    }
  } finally {
    await stack.stop();
    fs.rmSync(images.dir, { recursive: true, force: true });
  }
  const out = values.out ?? path.resolve(__dirname, '../../bench/results/latest.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  if (report && scale) {
    report.scale = scale;
    report.targets.push(...scaleTargets(scale));
  }
  fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), results, report, scale }, null, 2));
  process.stdout.write(`\nresults written to ${out}\n`);
  if (scale && !report) process.stdout.write(`\n${renderScale(scale).join('\n')}\n${scaleTargets(scale).map(formatTarget).join('\n')}\n`);
  if (report) {
    const dir = path.dirname(out);
    fs.writeFileSync(path.join(dir, 'latency.svg'), renderSvg(report));
    const markdown = renderMarkdown(report, 'latency.svg');
    fs.writeFileSync(path.join(dir, 'report.md'), markdown);
    process.stdout.write(`\n${markdown}\nreport written to ${path.join(dir, 'report.md')} and latency.svg\n`);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
