// What locking a mount's flags adds for callers other than root
// (docs/SECURITY.md): lockMountFlags alone, on a prepared detached clone
// of `directory`, once per call. IdmapDirectory pays it once, Mount once
// per partition. Closing the locked clone is not counted: the daemon's
// close is never the last reference, the caller holds one.
import fs from 'node:fs';
import { closeQuietly } from '../src/native/fd';
import { O_DIRECTORY, O_PATH } from '../src/native/dirfd';
import { openTreeClone, setMountAttributes } from '../src/native/mount-api';
import { lockMountFlags, prepareMountLocking } from '../src/mounts/lock';
import { summarize, timeMs, type LatencyStats } from './stats';

export function lockFloor(directory: string, iterations: number): LatencyStats {
  prepareMountLocking();
  const dirFd = fs.openSync(directory, O_PATH | O_DIRECTORY);
  const samples: number[] = [];
  try {
    for (let i = 0; i < iterations + 20; i++) {
      const mountFd = openTreeClone(dirFd, { recursive: false });
      setMountAttributes(mountFd, { nosuid: true, nodev: true });
      const [locked, ms] = timeMs(() => lockMountFlags(mountFd, { recursive: false }));
      closeQuietly(locked);
      if (i >= 20) samples.push(ms);
    }
  } finally {
    fs.closeSync(dirFd);
  }
  return summarize(samples);
}
