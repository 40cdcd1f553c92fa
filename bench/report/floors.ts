// The floor of each method: the kernel work the daemon must do for one call,
// timed in this process with the daemon's own native code (no bus, no
// checks). ListUserNamespaces and ListMounts do no kernel work at all, so
// their floor is the bare bus round trip, Peer.Ping to nsmountd.
import fs from 'node:fs';
import path from 'node:path';
import { closeQuietly } from '../../src/native/fd';
import { O_DIRECTORY, O_PATH } from '../../src/native/dirfd';
import { makeForeignDirectory } from '../../src/idmap/make-directory';
import { nativeFloor as allocateFloor } from '../allocate-user-namespace';
import { nativeFloor as idmapFloor } from '../idmap-directory';
import { rawFloor as mountFloor } from '../mount';
import { summarize, timeMs, type LatencyStats } from '../stats';
import type { LoadMethod } from '../../test/helpers/load-clients';

const WARMUP = 20;

function makeDirectoryFloor(parent: string, iterations: number): LatencyStats {
  const parentFd = fs.openSync(parent, O_PATH | O_DIRECTORY);
  const samples: number[] = [];
  try {
    for (let i = 0; i < iterations + WARMUP; i++) {
      const [fd, ms] = timeMs(() => makeForeignDirectory(parentFd, `floor-${i}`));
      closeQuietly(fd);
      if (i >= WARMUP) samples.push(ms);
    }
  } finally {
    fs.closeSync(parentFd);
  }
  return summarize(samples);
}

export interface Floor {
  label: string;
  stats: LatencyStats;
  /** Whether this is kernel work the method must do (its CPU budget includes it), not the bus round trip. */
  kernel: boolean;
}

export interface FloorInputs {
  iterations: number;
  /** A foreign-owned directory, for IdmapDirectory. */
  foreignTree: string;
  /** A scratch directory to create directories in. */
  scratchDir: string;
  /** A bare ext4 image, mounted read-only as Mount is in the report. */
  image: string;
  ping: LatencyStats;
}

export async function measureFloors(inputs: FloorInputs): Promise<Record<LoadMethod, Floor>> {
  const n = inputs.iterations;
  const mkdirParent = fs.mkdtempSync(path.join(inputs.scratchDir, 'mkdir-floor-'));
  const bus = { label: 'bus round trip (Peer.Ping to nsmountd; no kernel work to do)', stats: inputs.ping, kernel: false };
  const floors = {
    AllocateUserNamespace: { label: 'createUserNamespace in-process (clone + 64K maps + ns fd)', stats: allocateFloor(n), kernel: true },
    ListUserNamespaces: bus,
    MakeDirectory: { label: 'makeForeignDirectory in-process (mkdirat, chown, chmod, renameat2)', stats: makeDirectoryFloor(mkdirParent, n), kernel: true },
    IdmapDirectory: { label: 'idmapDirectory in-process (open_tree, idmap userns, mount_setattr)', stats: idmapFloor(inputs.foreignTree, n), kernel: true },
    Mount: { label: 'LOOP_CONFIGURE + fsopen/fsconfig/fsmount, read-only, in-process', stats: await mountFloor(inputs.image, true, n), kernel: true },
    ListMounts: bus,
  };
  fs.rmSync(mkdirParent, { recursive: true, force: true });
  return floors;
}
