// AllocateUserNamespace against its floors, all measured in this run:
// the in-process native call (what the daemon does per call) and a bare
// polkit CheckAuthorization (what an unprivileged call must pay anyway).
import { createUserNamespace } from '../src/native/userns';
import { closeQuietly } from '../src/native/fd';
import { summarize, timeMs, type LatencyStats } from './stats';
import { runBusLatencyClient } from './run-client';
import type { BenchContext, BenchResult } from './harness';

export function nativeFloor(iterations: number): LatencyStats {
  const samples: number[] = [];
  const map = [{ inside: 0, outside: 0x60000000, count: 65536 }];
  for (let i = 0; i < iterations + 20; i++) {
    const [fd, ms] = timeMs(() => createUserNamespace({ ownerUid: 61001, ownerGid: 61001, uidMap: map, gidMap: map }));
    closeQuietly(fd);
    if (i >= 20) samples.push(ms);
  }
  return summarize(samples);
}

export async function benchAllocateUserNamespace(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.iterations;
  const floor = nativeFloor(n);
  const polkit = summarize(await runBusLatencyClient({ user: ctx.users.alice, address: ctx.address, kind: 'check-authorization', iterations: n, tag: 'pk' }));
  const root = summarize(await runBusLatencyClient({ address: ctx.address, kind: 'allocate', iterations: n, tag: 'root' }));
  const unprivileged = summarize(await runBusLatencyClient({ user: ctx.users.alice, address: ctx.address, kind: 'allocate', iterations: n, tag: 'alice' }));
  return {
    method: 'AllocateUserNamespace',
    rows: [
      { label: 'native floor (in-process createUserNamespace)', stats: floor },
      { label: 'polkit CheckAuthorization (bare)', stats: polkit },
      { label: 'AllocateUserNamespace as root', stats: root },
      { label: 'AllocateUserNamespace as unprivileged user', stats: unprivileged },
    ],
    targets: [
      { name: 'root p50 / native floor p50', value: root.p50 / floor.p50, limit: 2.5, unit: 'x' },
      { name: 'unprivileged p50 - CheckAuthorization p50', value: unprivileged.p50 - polkit.p50, limit: 0.5, unit: 'ms' },
    ],
  };
}
