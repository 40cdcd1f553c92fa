// Cost at scale: the same calls on an empty registry and with 1500 live
// namespaces and 1500 attachments of another user, side by side. Issue
// #12's target: each at most 1.2x its empty-registry cost, in daemon CPU
// per call (steady on a noisy machine) and p50.
import fs from 'node:fs';
import path from 'node:path';
import { holdState, runMultiCall } from '../run-client';
import { summarize, type LatencyStats } from '../stats';
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
  // Each AttachUnmount is two calls; the CPU is shared out by the calls made.
  const attach = await runMultiCall({ address: ctx.address, method: 'AttachUnmount', connections: 1, calls: Math.ceil(ctx.calls / 2), parent: dirs.root, daemonPid: ctx.daemonPid });
  const perCall = attach.daemonCpuMsPerCall / 2;
  out['IdmapDirectory with AttachTo'] = { stats: summarize(attach.samples['IdmapDirectory+AttachTo']), cpuMsPerCall: perCall };
  out.Unmount = { stats: summarize(attach.samples.Unmount), cpuMsPerCall: perCall };
  const list = await runMultiCall({ address: ctx.address, user: ctx.users.alice, method: 'ListMounts', connections: 1, calls: ctx.calls, daemonPid: ctx.daemonPid });
  out[`ListMounts (a caller with ${SCALE.callerAttachments} attachments)`] = { stats: summarize(list.samples.ListMounts), cpuMsPerCall: list.daemonCpuMsPerCall };
  return out;
}

export async function measureScale(ctx: ScaleContext, log: (line: string) => void): Promise<ScaleReport> {
  fs.chmodSync(ctx.scratchDir, 0o755);
  const dirs = { root: ownedDir(ctx.scratchDir, 'scale-root', { uid: 0, gid: 0 }), alice: ownedDir(ctx.scratchDir, 'scale-alice', ctx.users.alice) };
  const bobDir = ownedDir(ctx.scratchDir, 'scale-bob', ctx.users.bob);
  const alices = await holdState({ address: ctx.address, user: ctx.users.alice, namespaces: 0, attachments: SCALE.callerAttachments, parent: dirs.alice });
  try {
    const empty = await measure(ctx, dirs);
    log(`empty registry: ${Object.entries(empty).map(([k, v]) => `${k} ${v.cpuMsPerCall.toFixed(3)} ms CPU`).join(', ')}`);
    const started = Date.now();
    const bobs = await holdState({ address: ctx.address, user: ctx.users.bob, namespaces: ctx.size, attachments: ctx.size, parent: bobDir });
    const populateSeconds = (Date.now() - started) / 1000;
    try {
      const atScale = await measure(ctx, dirs);
      log(`${ctx.size} namespaces + ${ctx.size} attachments: ${Object.entries(atScale).map(([k, v]) => `${k} ${v.cpuMsPerCall.toFixed(3)} ms CPU`).join(', ')}`);
      return {
        namespaces: ctx.size,
        attachments: ctx.size,
        populateSeconds,
        rows: Object.keys(empty).map((call) => ({ call, empty: empty[call], atScale: atScale[call] })),
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
  return targets;
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
  lines.push('');
  return lines;
}
