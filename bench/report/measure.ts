// Measures everything the performance report shows, against the stack
// bench/run.ts started: per method the floor, a bare polkit check, the
// latency of one client as root and as an unprivileged user, and root
// throughput with 1, 4 and 16 concurrent clients; the daemon's RSS idle
// and under the 16-client load.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBusLatencyClient } from '../run-client';
import { summarize, type LatencyStats } from '../stats';
import { benchTree } from '../idmap-directory';
import { measureFloors } from './floors';
import { METHODS, runLoadClients, type LoadClientSpec, type LoadMethod } from '../../test/helpers/load-clients';
import { rssKiB, startSampler } from '../../test/helpers/process-sampler';
import type { BenchContext } from '../harness';
import { alice } from '../../test/helpers/users';
import type { MethodReport, ReportData, ReportTarget, Throughput } from './types';

export const CONCURRENCY = [1, 4, 16] as const;

const ACTIONS: Record<LoadMethod, string> = {
  AllocateUserNamespace: 'org.nsmount.allocate-user-namespace',
  ListUserNamespaces: 'org.nsmount.allocate-user-namespace',
  MakeDirectory: 'org.nsmount.make-directory',
  IdmapDirectory: 'org.nsmount.idmap-directory',
  Mount: 'org.nsmount.mount-image',
  ListMounts: 'org.nsmount.idmap-directory',
};

export interface ReportContext extends BenchContext {
  daemonPid: number;
  /** VmRSS right after start-up, before any benchmark called the daemon. */
  idleRssKiB: number;
  /** A root-owned ext4 image in a configured image directory: trusted. */
  trustedImage: string;
  /** Calls per throughput measurement, spread over its clients. */
  throughputCalls: number;
}

function ownedDir(parent: string, name: string, owner: { uid: number; gid: number }): string {
  const dir = fs.mkdtempSync(path.join(parent, `${name}-`));
  fs.chmodSync(dir, 0o755);
  fs.chownSync(dir, owner.uid, owner.gid);
  return dir;
}

async function samplesOf(address: string, spec: LoadClientSpec, method: LoadMethod): Promise<number[]> {
  const run = await runLoadClients(address, [spec]);
  if (run.errorCount) throw new Error(`${method}: ${run.errorCount} calls failed, e.g. ${JSON.stringify(run.errors[0])}`);
  return run.samples[method] ?? [];
}

export async function measureReport(ctx: ReportContext, log: (line: string) => void): Promise<ReportData> {
  const loadAverageStart = os.loadavg();
  const n = ctx.iterations;
  fs.chmodSync(ctx.scratchDir, 0o755);
  const rootParent = ownedDir(ctx.scratchDir, 'root', { uid: 0, gid: 0 });
  const aliceParent = ownedDir(ctx.scratchDir, 'alice', alice);
  const base = { parent: rootParent, image: ctx.trustedImage, warmup: 20 };

  const ping = summarize(await runBusLatencyClient({ address: ctx.address, kind: 'ping', iterations: n, tag: 'ping' }));
  log(`ping p50 ${ping.p50} ms`);
  const floors = await measureFloors({ iterations: n, foreignTree: benchTree(ctx), scratchDir: ctx.scratchDir, image: ctx.trustedImage, ping });

  const methods: MethodReport[] = [];
  let loadedPeakKiB = 0;
  for (const method of METHODS) {
    const action = ACTIONS[method];
    const polkit = summarize(await runBusLatencyClient({ user: alice, address: ctx.address, kind: 'check-authorization', action, iterations: n, tag: `pk-${method}` }));
    const root = summarize(await samplesOf(ctx.address, { ...base, user: 'root', methods: method, calls: n }, method));
    const unprivileged = summarize(
      await samplesOf(ctx.address, { ...base, user: alice, parent: aliceParent, methods: method, calls: n }, method),
    );
    const throughput: Throughput[] = [];
    for (const clients of CONCURRENCY) {
      const sampler = clients === 16 ? startSampler(ctx.daemonPid, 100) : undefined;
      const calls = Math.ceil(ctx.throughputCalls / clients);
      const run = await runLoadClients(ctx.address, Array.from({ length: clients }, () => ({ ...base, warmup: 12, user: 'root' as const, methods: method, calls })));
      const rss = sampler?.stop() ?? [];
      loadedPeakKiB = Math.max(loadedPeakKiB, ...rss.map((s) => s.rssKiB));
      if (run.errorCount) throw new Error(`${method} x${clients}: ${run.errorCount} calls failed, e.g. ${JSON.stringify(run.errors[0])}`);
      const stats = summarize(run.samples[method] ?? []);
      throughput.push({ clients, calls: run.calls, callsPerSecond: Math.round(run.callsPerSecond), p50: stats.p50, p99: stats.p99 });
    }
    methods.push({ method, floor: floors[method], polkit: { action, stats: polkit }, root, unprivileged, throughput });
    log(`${method}: floor ${floors[method].stats.p50} root ${root.p50} unprivileged ${unprivileged.p50} polkit ${polkit.p50} ms; ${throughput.map((t) => `${t.clients}:${t.callsPerSecond}/s`).join(' ')}`);
  }
  // Idle again: what the daemon keeps once the load is gone.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const rss = { idleKiB: ctx.idleRssKiB, loadedPeakKiB, idleAfterKiB: rssKiB(ctx.daemonPid) };
  return {
    date: new Date().toISOString(),
    host: { cpus: os.cpus().length, kernel: os.release(), node: process.version, loadAverageStart, loadAverageEnd: os.loadavg() },
    iterations: n,
    ping,
    methods,
    rss,
    targets: targetsOf(methods, rss),
  };
}

function target(t: Omit<ReportTarget, 'met'>): ReportTarget {
  return { ...t, met: t.atLeast ? t.value >= t.limit : t.value <= t.limit };
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export function targetsOf(methods: MethodReport[], rss: ReportData['rss']): ReportTarget[] {
  const targets: ReportTarget[] = [];
  for (const m of methods) {
    targets.push(target({ name: `${m.method}: root p50 / floor p50`, value: round(m.root.p50 / m.floor.stats.p50, 2), limit: 2.5, unit: 'x' }));
  }
  for (const m of methods) {
    targets.push(target({ name: `${m.method}: unprivileged p50 - CheckAuthorization p50`, value: round(m.unprivileged.p50 - m.polkit.stats.p50), limit: 0.5, unit: 'ms' }));
  }
  for (const m of methods) {
    const at16 = m.throughput.find((t) => t.clients === 16);
    targets.push(target({ name: `${m.method}: root calls/s across 16 clients`, value: at16?.callsPerSecond ?? 0, limit: 2000, unit: 'calls/s', atLeast: true }));
  }
  targets.push(target({ name: 'idle RSS (fresh daemon)', value: round(rss.idleKiB / 1024, 1), limit: 70, unit: 'MiB' }));
  return targets;
}

export type { LatencyStats };
