// Cost at scale: the same calls on an empty registry and with 1500 live
// namespaces and 1500 attachments of another user, side by side. Issue
// #12's target: each at most 1.2x its empty-registry cost, in daemon CPU
// per call (steady on a noisy machine) and p50.
import fs from 'node:fs';
import path from 'node:path';
import { holdState, runMultiCall } from '../run-client';
import { summarize, type LatencyStats } from '../stats';
import { closeQuietly } from '../../src/native/fd';
import { O_DIRECTORY, O_PATH } from '../../src/native/dirfd';
import { openTreeClone } from '../../src/native/mount-api';
import type { ReportTarget } from './types';

export const SCALE = { callerAttachments: 10 };

export interface ScaleRow {
  call: string;
  empty: { stats: LatencyStats; cpuMsPerCall: number };
  atScale: { stats: LatencyStats; cpuMsPerCall: number };
}

export interface ScaleReport {
  namespaces: number;
  attachments: number;
  /** Seconds the 1500 + 1500 took to make: the registry's growth cost, one call after another. */
  populateSeconds: number;
  rows: ScaleRow[];
  /**
   * CPU ms of one open_tree(OPEN_TREE_CLONE) + close of the directory
   * IdmapDirectory maps, in this process, at both sizes. The kernel walks
   * every mount attached below the source's mount (has_locked_children),
   * and the held attachments sit on the same file system as the source.
   */
  openTreeFloor: { emptyMs: number; atScaleMs: number };
}

export interface ScaleContext {
  address: string;
  daemonPid: number;
  scratchDir: string;
  users: Record<'alice' | 'bob', { uid: number; gid: number }>;
  calls: number;
  /** Live namespaces, and attachments, of the second measurement (1500 by default). */
  size: number;
}

function ownedDir(parent: string, name: string, owner: { uid: number; gid: number }): string {
  const dir = fs.mkdtempSync(path.join(parent, `${name}-`));
  fs.chmodSync(dir, 0o755);
  fs.chownSync(dir, owner.uid, owner.gid);
  return dir;
}

type Measured = Record<string, { stats: LatencyStats; cpuMsPerCall: number }>;

/** The three kinds of call the target names, as root except ListMounts (a caller with 10 records). */
async function measure(ctx: ScaleContext, dirs: { root: string; alice: string }): Promise<Measured> {
  const out: Measured = {};
  const allocate = await runMultiCall({ address: ctx.address, method: 'AllocateUserNamespace', connections: 1, calls: ctx.calls, daemonPid: ctx.daemonPid });
  out.AllocateUserNamespace = { stats: summarize(allocate.samples.AllocateUserNamespace), cpuMsPerCall: allocate.daemonCpuMsPerCall };
  const attached = await attachThenUnmount(ctx, dirs.root);
  out['IdmapDirectory with AttachTo'] = attached.attach;
  out.Unmount = attached.unmount;
  const list = await runMultiCall({ address: ctx.address, user: ctx.users.alice, method: 'ListMounts', connections: 1, calls: ctx.calls, daemonPid: ctx.daemonPid });
  out[`ListMounts (a caller with ${SCALE.callerAttachments} attachments)`] = { stats: summarize(list.samples.ListMounts), cpuMsPerCall: list.daemonCpuMsPerCall };
  return out;
}

/** Attachments of root at a time while measuring: few, so root's own mounts barely add to the registry being measured. */
const ATTACH_BATCH = 100;

/**
 * IdmapDirectory with AttachTo and Unmount, each with a daemon CPU figure
 * of its own: batches of ATTACH_BATCH attachments, then their unmounts.
 */
async function attachThenUnmount(ctx: ScaleContext, parent: string): Promise<Measured> {
  const rounds = Math.max(1, Math.round(ctx.calls / ATTACH_BATCH));
  const runs = { attach: { samples: [] as number[], cpuMs: 0, calls: 0 }, unmount: { samples: [] as number[], cpuMs: 0, calls: 0 } };
  const common = { address: ctx.address, connections: 1, calls: ATTACH_BATCH, warmup: 5, parent, daemonPid: ctx.daemonPid };
  for (let round = 0; round < rounds; round++) {
    for (const [kind, method, label] of [['attach', 'AttachTo', 'IdmapDirectory+AttachTo'], ['unmount', 'UnmountAttached', 'Unmount']] as const) {
      const run = await runMultiCall({ ...common, method });
      runs[kind].samples.push(...run.samples[label]);
      runs[kind].cpuMs += run.daemonCpuMsPerCall * run.calls;
      runs[kind].calls += run.calls;
    }
  }
  const of = (r: typeof runs.attach) => ({ stats: summarize(r.samples), cpuMsPerCall: r.cpuMs / r.calls });
  return { attach: of(runs.attach), unmount: of(runs.unmount) };
}

const FLOOR_ITERATIONS = 1000;

/** CPU ms per open_tree clone + close of `dir`, in this process. */
function openTreeCpuMs(dir: string): number {
  const fd = fs.openSync(dir, O_PATH | O_DIRECTORY);
  try {
    for (let i = 0; i < 50; i++) closeQuietly(openTreeClone(fd, { recursive: false }));
    const before = process.cpuUsage();
    for (let i = 0; i < FLOOR_ITERATIONS; i++) closeQuietly(openTreeClone(fd, { recursive: false }));
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000 / FLOOR_ITERATIONS;
  } finally {
    fs.closeSync(fd);
  }
}

export async function measureScale(ctx: ScaleContext, log: (line: string) => void): Promise<ScaleReport> {
  fs.chmodSync(ctx.scratchDir, 0o755);
  const dirs = { root: ownedDir(ctx.scratchDir, 'scale-root', { uid: 0, gid: 0 }), alice: ownedDir(ctx.scratchDir, 'scale-alice', ctx.users.alice) };
  const bobDir = ownedDir(ctx.scratchDir, 'scale-bob', ctx.users.bob);
  const alices = await holdState({ address: ctx.address, user: ctx.users.alice, namespaces: 0, attachments: SCALE.callerAttachments, parent: dirs.alice });
  try {
    // Untimed first: a daemon fresh from start-up (--only scale) is not yet compiled hot, which would flatter the ratios.
    await measure({ ...ctx, calls: Math.min(ctx.calls, 200) }, dirs);
    const empty = await measure(ctx, dirs);
    // The directory the AttachTo client maps (bench/clients/multi-call.ts).
    const source = path.join(dirs.root, 'source');
    const emptyFloorMs = openTreeCpuMs(source);
    log(`empty registry: ${Object.entries(empty).map(([k, v]) => `${k} ${v.cpuMsPerCall.toFixed(3)} ms CPU`).join(', ')}`);
    const started = Date.now();
    const bobs = await holdState({ address: ctx.address, user: ctx.users.bob, namespaces: ctx.size, attachments: ctx.size, parent: bobDir });
    const populateSeconds = (Date.now() - started) / 1000;
    try {
      const atScale = await measure(ctx, dirs);
      const atScaleFloorMs = openTreeCpuMs(source);
      log(`${ctx.size} namespaces + ${ctx.size} attachments: ${Object.entries(atScale).map(([k, v]) => `${k} ${v.cpuMsPerCall.toFixed(3)} ms CPU`).join(', ')}`);
      return {
        namespaces: ctx.size,
        attachments: ctx.size,
        populateSeconds,
        rows: Object.keys(empty).map((call) => ({ call, empty: empty[call], atScale: atScale[call] })),
        openTreeFloor: { emptyMs: emptyFloorMs, atScaleMs: atScaleFloorMs },
      };
    } finally {
      await bobs.release();
    }
  } finally {
    await alices.release();
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export function scaleTargets(scale: ScaleReport): ReportTarget[] {
  const targets: ReportTarget[] = [];
  for (const row of scale.rows) {
    const cpu = round2(row.atScale.cpuMsPerCall / row.empty.cpuMsPerCall);
    targets.push({ name: `${row.call}: daemon CPU at scale / empty`, value: cpu, limit: 1.2, unit: 'x', met: cpu <= 1.2 });
    const p50 = round2(row.atScale.stats.p50 / row.empty.stats.p50);
    targets.push({ name: `${row.call}: p50 at scale / empty`, value: p50, limit: 1.2, unit: 'x', met: p50 <= 1.2 });
  }
  const net = round2(netIdmapRatio(scale));
  targets.push({ name: "IdmapDirectory with AttachTo: daemon CPU at scale, less the kernel's open_tree growth, / empty", value: net, limit: 1.2, unit: 'x', met: net <= 1.2 });
  return targets;
}

/** IdmapDirectory with AttachTo's CPU ratio once the kernel's own growth in open_tree is taken off. */
function netIdmapRatio(scale: ScaleReport): number {
  const row = scale.rows.find((r) => r.call === 'IdmapDirectory with AttachTo')!;
  const kernelGrowth = scale.openTreeFloor.atScaleMs - scale.openTreeFloor.emptyMs;
  return (row.atScale.cpuMsPerCall - kernelGrowth) / row.empty.cpuMsPerCall;
}

export function renderScale(scale: ScaleReport): string[] {
  const ms = (x: number) => x.toFixed(3);
  const lines = [
    `## Scale: empty registry vs ${scale.namespaces} live namespaces + ${scale.attachments} attachments`,
    '',
    `Another user's ${scale.namespaces} namespaces and ${scale.attachments} attachments took ${scale.populateSeconds.toFixed(1)} s to make, one call after another.`,
    '',
    '| call | empty: CPU ms/call | empty: p50 ms | at scale: CPU ms/call | at scale: p50 ms | CPU ratio | p50 ratio |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of scale.rows) {
    lines.push(
      `| ${r.call} | ${ms(r.empty.cpuMsPerCall)} | ${ms(r.empty.stats.p50)} | ${ms(r.atScale.cpuMsPerCall)} | ${ms(r.atScale.stats.p50)} | ` +
        `${(r.atScale.cpuMsPerCall / r.empty.cpuMsPerCall).toFixed(2)}x | ${(r.atScale.stats.p50 / r.empty.stats.p50).toFixed(2)}x |`,
    );
  }
  const floor = scale.openTreeFloor;
  lines.push(
    '',
    `Kernel floor, in the bench process: open_tree(OPEN_TREE_CLONE) + close of the mapped directory costs ${ms(floor.emptyMs)} ms of CPU ` +
      `on the empty registry and ${ms(floor.atScaleMs)} ms at scale: the kernel walks every mount attached below the source's mount ` +
      `(has_locked_children), and the ${scale.attachments} held attachments share its file system. ` +
      `IdmapDirectory with AttachTo less that growth: ${netIdmapRatio(scale).toFixed(2)}x its empty-registry CPU.`,
    '',
  );
  return lines;
}
