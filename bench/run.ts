// `npm run bench`: brings up the private stack (scripts/bench.js has put us
// in a private mount namespace with test users and a tmpfs TMPDIR), runs
// every benchmark, prints tables and ratios, and writes
// bench/results/latest.json, report.md and latency.svg.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { startTestStack, type TestStack, type TestStackOptions } from '../test/helpers/stack';
import { BUS_POLICY, PACKAGE_ROOT } from '../test/helpers/paths';
import { measureScale, renderScale, scaleTargets, type ScaleDaemon, type ScaleReport } from './report/scale';
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
      /** Alternating rounds of the scale benchmark; --cpu-calls are spread over them. */
      'scale-rounds': { type: 'string', default: '4' },
      only: { type: 'string' },
      out: { type: 'string' },
      /** Write the daemon's V8 CPU profile (node --cpu-prof) into this directory when it exits. */
      profile: { type: 'string' },
    },
  });
  const wanted = (name: string) => !values.only || values.only.split(',').includes(name);
  const images = trustedImage();
  const stackOptions: TestStackOptions = {
    config:
      `[pool]\nquota_per_uid = 100000\n[mounts]\nattachments_per_uid = 100000\n` +
      `[images]\ndirectories = [${JSON.stringify(images.dir)}]\n`,
    // The service's default, not the tests' debug: every call logs a line at info.
    logLevel: 'info',
    // nsmountd's policy, and the fixture's name for the bare dbus-next server of the same run.
    policyFiles: [BUS_POLICY, path.join(PACKAGE_ROOT, 'test/fixtures/org.nsmount.StackTest.conf')],
    daemonNodeArgs: values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : [],
  };
  const stack = await startTestStack(stackOptions);
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
    // Two stacks of its own, stopped before the run ends.
    if (wanted(SCALE)) {
      scale = await withScaleDaemons(stackOptions, (daemons) =>
        measureScale(
          { ...daemons, users: { alice, bob }, calls: Number(values['cpu-calls']), rounds: Number(values['scale-rounds']), size: Number(values.scale) },
          (line) => process.stdout.write(`scale: ${line}\n`),
        ),
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

/**
 * The scale section's two daemons, fresh and alike: stacks of their own,
 * each with a scratch directory on a tmpfs of its own (so one's held
 * attachments are not on the other's AttachTo source's file system).
 */
async function withScaleDaemons<T>(options: TestStackOptions, use: (daemons: { empty: ScaleDaemon; atScale: ScaleDaemon }) => Promise<T>): Promise<T> {
  const stacks: TestStack[] = [];
  try {
    const daemons: ScaleDaemon[] = [];
    for (let i = 0; i < 2; i++) {
      const stack = await startTestStack(options);
      stacks.push(stack);
      const scratchDir = fs.mkdtempSync(path.join(stack.baseDir, 'scale-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'nsmountd-bench-scale', scratchDir]);
      daemons.push({ address: stack.address, daemonPid: stack.daemon.pid, scratchDir });
    }
    return await use({ empty: daemons[0], atScale: daemons[1] });
  } finally {
    // Stopping a stack unmounts what is left below its directory, the tmpfs too.
    for (const stack of stacks) await stack.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
