// Mount of a 16 MiB bare ext4 image as root, read-write and read-only,
// against the raw floor measured in the same run: LOOP_CONFIGURE plus
// fsopen/fsconfig/fsmount with the options Mount itself passes. The gap is
// what the service adds: the bus round trip, fd checks, trust
// classification and dissection (libblkid).
import fs from 'node:fs';
import path from 'node:path';
import dbus from 'dbus-next';
import { connectBus } from '../src/bus/connection';
import { callBus } from '../src/bus/bus-call';
import { closeQuietly } from '../src/native/fd';
import { attachLoopDevice } from '../src/native/loop';
import { fsMount } from '../src/native/fsmount';
import { loopDevicesUnder, makeExt4 } from '../test/helpers/images';
import { lockFloor } from './lock-floor';
import { summarize, timeMs, type LatencyStats } from './stats';
import type { BenchContext, BenchResult } from './harness';

const MANAGER = { destination: 'org.nsmount.NsMount1', path: '/org/nsmount/NsMount1', interface: 'org.nsmount.NsMount1.Manager' };
const WARMUP = 20;

/**
 * Unmounting (ext4 read-write writes its superblock) and loop autoclear
 * happen at the last close, which for a bus reply may be dbus-daemon's,
 * after the client has moved on. Waiting for the loop device to go keeps
 * that teardown out of the next sample, as the floor's synchronous close does.
 */
async function settle(dir: string): Promise<void> {
  while (loopDevicesUnder(dir).length) await new Promise((resolve) => setImmediate(resolve));
}

/** What mountImage does for one bare ext4 image, minus everything around it. */
export async function rawFloor(image: string, readOnly: boolean, iterations: number): Promise<LatencyStats> {
  const imageFd = fs.openSync(image, readOnly ? 'r' : 'r+');
  const samples: number[] = [];
  try {
    for (let i = 0; i < iterations + WARMUP; i++) {
      const [fds, ms] = timeMs(() => {
        const loop = attachLoopDevice(imageFd, { readOnly });
        const mountFd = fsMount({
          fstype: 'ext4',
          source: loop.path,
          options: readOnly ? ['errors=remount-ro', 'norecovery'] : ['errors=remount-ro'],
          readOnly,
          nosuid: false,
          nodev: false,
          noexec: false,
          nodiratime: false,
        });
        return [loop.fd, mountFd];
      });
      for (const fd of fds) closeQuietly(fd);
      await settle(path.dirname(image));
      if (i >= WARMUP) samples.push(ms);
    }
  } finally {
    fs.closeSync(imageFd);
  }
  return summarize(samples);
}

async function viaBus(address: string, image: string, readOnly: boolean, iterations: number): Promise<LatencyStats> {
  const bus = await connectBus({ address });
  const imageFd = fs.openSync(image, readOnly ? 'r' : 'r+');
  const samples: number[] = [];
  try {
    for (let i = 0; i < iterations + WARMUP; i++) {
      const start = process.hrtime.bigint();
      const [partitions] = (await callBus(bus, {
        ...MANAGER,
        member: 'Mount',
        signature: 'ha{sv}',
        body: [imageFd, { ReadOnly: new dbus.Variant('b', readOnly) }],
      })) as [Array<unknown[]>];
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      for (const p of partitions) closeQuietly(p[7] as number);
      await settle(path.dirname(image));
      if (i >= WARMUP) samples.push(ms);
    }
  } finally {
    fs.closeSync(imageFd);
    bus.disconnect();
  }
  return summarize(samples);
}

export async function benchMount(ctx: BenchContext): Promise<BenchResult> {
  const dir = fs.mkdtempSync(path.join(ctx.scratchDir, 'mount-'));
  const image = makeExt4(dir, 'bench.ext4', { sizeMiB: 16, files: { 'hello.txt': 'bench\n' } });
  const n = ctx.iterations;
  const floorRw = await rawFloor(image, false, n);
  const floorRo = await rawFloor(image, true, n);
  const rw = await viaBus(ctx.address, image, false, n);
  const ro = await viaBus(ctx.address, image, true, n);
  // Before the directory goes: the lock floor clones it.
  const lock = lockFloor(dir, n);
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    method: 'Mount (16 MiB bare ext4, root)',
    rows: [
      { label: 'raw floor read-write (LOOP_CONFIGURE + fsopen/fsconfig/fsmount)', stats: floorRw },
      { label: 'raw floor read-only', stats: floorRo },
      { label: 'flag locking per partition (lockMountFlags, callers other than root only)', stats: lock },
      { label: 'Mount read-write', stats: rw },
      { label: 'Mount read-only', stats: ro },
    ],
    // Expected gap over the floor: one bus round trip with fds (~0.6 ms
    // here), fd checks and trust (~0.2 ms) and dissection (~0.35 ms); on
    // tmpfs the read-only floor is ~0.2 ms, so the ratio mostly measures
    // the bus (docs/PERFORMANCE.md).
    targets: [
      // The Mount issue's target: p50 within 2.5x of the raw floor.
      { name: 'read-write p50 / floor p50', value: rw.p50 / floorRw.p50, limit: 2.5, unit: 'x' },
      { name: 'read-only p50 / floor p50', value: ro.p50 / floorRo.p50, limit: 2.5, unit: 'x' },
    ],
  };
}
