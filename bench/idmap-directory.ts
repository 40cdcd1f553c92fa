// IdmapDirectory against its floors, all measured in this run: the
// in-process domain call the daemon makes per request (open_tree, a
// throwaway idmap namespace, mount_setattr; the same work as
// bench/idmap-floor.ts's last row, with the target maps known from the
// registry as the daemon has them), and a bare polkit CheckAuthorization,
// which an unprivileged call pays anyway.
import fs from 'node:fs';
import path from 'node:path';
import { closeQuietly } from '../src/native/fd';
import { O_DIRECTORY, O_PATH } from '../src/native/dirfd';
import { idmapDirectory } from '../src/idmap/idmap-directory';
import { FOREIGN_UID_BASE } from '../src/idmap/foreign-range';
import { lockFloor } from './lock-floor';
import { summarize, timeMs, type LatencyStats } from './stats';
import { runBusLatencyClient, runSamplingClient, type ClientUser } from './run-client';
import type { BenchContext, BenchResult } from './harness';

export function nativeFloor(directory: string, iterations: number): LatencyStats {
  const dirFd = fs.openSync(directory, O_PATH | O_DIRECTORY);
  const map = [{ inside: 0, outside: 0x60000000, count: 65536 }];
  const samples: number[] = [];
  try {
    for (let i = 0; i < iterations + 20; i++) {
      const [result, ms] = timeMs(() =>
        idmapDirectory({
          directoryFd: dirFd,
          callerUid: 61001,
          callerGid: 61001,
          userNamespaceMaps: { uidMap: map, gidMap: map },
          mode: 'foreign',
          readOnly: false,
          recursive: false,
          forceNosuidNodev: true,
        }),
      );
      closeQuietly(result.mountFd);
      if (i >= 20) samples.push(ms);
    }
  } finally {
    fs.closeSync(dirFd);
  }
  return summarize(samples);
}

function runIdmapClient(opts: { user?: ClientUser; address: string; directory: string; mode: string; iterations: number; tag: string }): Promise<number[]> {
  return runSamplingClient({
    script: 'idmap-latency.js',
    user: opts.user,
    label: 'idmap',
    args: ['--address', opts.address, '--directory', opts.directory, '--mode', opts.mode, '--iterations', String(opts.iterations), '--tag', opts.tag],
  });
}

/** A foreign-owned tree under a directory alice owns: the trusted case for her. */
export function benchTree(ctx: BenchContext): string {
  // mkdtemp made the scratch dir 0700; alice must reach the tree.
  fs.chmodSync(ctx.scratchDir, 0o755);
  const parent = fs.mkdtempSync(path.join(ctx.scratchDir, 'idmap-'));
  fs.chmodSync(parent, 0o755);
  fs.chownSync(parent, ctx.users.alice.uid, ctx.users.alice.gid);
  const tree = path.join(parent, 'tree');
  fs.mkdirSync(tree, { mode: 0o755 });
  fs.chownSync(tree, FOREIGN_UID_BASE, FOREIGN_UID_BASE);
  return tree;
}

export async function benchIdmapDirectory(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.iterations;
  const tree = benchTree(ctx);
  const floor = nativeFloor(tree, n);
  const polkit = summarize(await runBusLatencyClient({ user: ctx.users.alice, address: ctx.address, kind: 'check-authorization', iterations: n, tag: 'idmap-pk' }));
  const root = summarize(await runIdmapClient({ address: ctx.address, directory: tree, mode: 'foreign', iterations: n, tag: 'root' }));
  const unprivileged = summarize(await runIdmapClient({ user: ctx.users.alice, address: ctx.address, directory: tree, mode: 'foreign', iterations: n, tag: 'alice' }));
  return {
    method: 'IdmapDirectory',
    rows: [
      { label: 'native floor (in-process idmapDirectory, foreign, maps known, flags locked)', stats: floor },
      { label: 'of which flag locking (lockMountFlags, callers other than root only)', stats: lockFloor(tree, n) },
      { label: 'polkit CheckAuthorization (bare)', stats: polkit },
      { label: 'IdmapDirectory foreign + UserNamespace as root', stats: root },
      { label: 'IdmapDirectory foreign + UserNamespace as unprivileged user', stats: unprivileged },
    ],
    // The targets of the IdmapDirectory issue; docs/PERFORMANCE.md explains
    // why a bus service cannot reach the first on this machine.
    targets: [
      { name: 'root p50 / native floor p50', value: root.p50 / floor.p50, limit: 2.5, unit: 'x' },
      { name: 'unprivileged p50 - CheckAuthorization p50', value: unprivileged.p50 - polkit.p50, limit: 0.5, unit: 'ms' },
    ],
  };
}
