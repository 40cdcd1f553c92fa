// Load and soak: 16 client processes as four users each run a bounded
// number of mixed calls (allocate, list, make a directory and idmap it into
// the new namespace, mount a trusted ext4 image read-only, list mounts,
// close every fd). Every call must succeed, and once the clients are gone
// the daemon must hold what it held before: the same fds, no mount, no loop
// device, and memory that grew by no more than a bound.
//
// Sized for CI (~300 calls per client); NSMOUNTD_SOAK_CALLS=N sets the
// calls per client for a longer soak.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootTest, rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice, bob, carol, dave, type TestUser } from '../helpers/users';
import { makeExt4, tempDir, waitForNoLoopDevicesUnder } from '../helpers/images';
import { runLoadClients, type LoadClientSpec, type LoadMethod } from '../helpers/load-clients';
import { startSampler, sampleOnce, type ProcessSample } from '../helpers/process-sampler';

const CLIENTS = 16;
const USERS: TestUser[] = [alice, bob, carol, dave];
const CALLS = Number(process.env.NSMOUNTD_SOAK_CALLS ?? 300);
// Whole mixed cycles (6 calls) per client, enough for the JIT and the heap
// to reach their working size before the baseline is taken.
const WARMUP_CALLS = 48;
/**
 * What RSS may grow by from the warmed-up baseline to the run's peak. With
 * 16 clients a few hundred calls are in flight or queued at once, each with
 * its messages, fds and closures; V8's young generation alone may grow by
 * 16-32 MiB before a scavenge. 50 MiB leaves room for that and for heap
 * growth the GC reclaims later, while a leak of even 5 KiB per call shows
 * once NSMOUNTD_SOAK_CALLS makes the run ~10000 calls.
 */
const RSS_GROWTH_LIMIT_KIB = 50 * 1024;

let base: string;
let image: string;
/** The configured, trusted image directory. */
let images: string;
const parents = new Map<number, string>();

test.before(async () => {
  if (rootSkipReason) return;
  base = tempDir('nsmountd-soak-');
  fs.chmodSync(base, 0o755);
  images = path.join(base, 'images');
  fs.mkdirSync(images, { mode: 0o755 });
  image = makeExt4(images, 'soak.ext4', { sizeMiB: 8, files: { 'hello.txt': 'soak\n' } });
  fs.chmodSync(image, 0o644);
  for (const user of USERS) {
    const parent = path.join(base, user.name);
    fs.mkdirSync(parent, { mode: 0o755 });
    fs.chownSync(parent, user.uid, user.gid);
    parents.set(user.uid, parent);
  }
});
const stack = useTestStack(() => ({ config: `[images]\ndirectories = [${JSON.stringify(images)}]\n` }));
test.after.always(async () => {
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

function specs(calls: number, warmup: number): LoadClientSpec[] {
  return Array.from({ length: CLIENTS }, (_, i) => {
    const user = USERS[i % USERS.length];
    return { user, methods: 'mixed', calls, warmup, parent: parents.get(user.uid), image };
  });
}

/** Mounts below this test's own directory: other test files share the mount namespace and mount things of their own meanwhile. */
function mountCount(pid: number | 'self'): number {
  return fs
    .readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .trim()
    .split('\n')
    .filter((line) => (line.split(' ')[4] ?? '').startsWith(base)).length;
}

/** Polls until the daemon holds `fds` fds again (replies and closes trail the clients' exit a little). */
async function settleFds(target: number, timeoutMs = 10000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = stack.daemon.fdCount();
    if (now <= target || Date.now() > deadline) return now;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function timeline(samples: ProcessSample[]): string {
  const step = Math.max(1, Math.floor(samples.length / 12));
  return samples
    .filter((_, i) => i % step === 0 || i === samples.length - 1)
    .map((s) => `${(s.tMs / 1000).toFixed(1)}s ${(s.rssKiB / 1024).toFixed(1)}MiB ${s.fds}fd`)
    .join(' | ');
}

rootTest(`${CLIENTS} clients x ${CALLS} mixed calls: every call succeeds, no fd, mount or loop device is left, RSS stays bounded`, async (t) => {
  // Four users' clients start 16 node processes at once; a loaded CI
  // machine needs time for that on top of the calls themselves.
  t.timeout(120_000 + CLIENTS * CALLS * 20);
  const pid = stack.daemon.pid;
  const hostMountsBefore = mountCount('self');
  const daemonMountsBefore = mountCount(pid);
  const idle = sampleOnce(pid);

  const warm = await runLoadClients(stack.address, specs(WARMUP_CALLS, 0));
  t.deepEqual(warm.errors, [], 'warm-up round');
  const fdsBaseline = await settleFds(idle.fds, 3000);
  const baseline = sampleOnce(pid);

  const sampler = startSampler(pid, 250);
  const run = await runLoadClients(stack.address, specs(CALLS, 6));
  const samples = sampler.stop();
  const fdsAfter = await settleFds(fdsBaseline);
  const after = sampleOnce(pid);
  const peakRss = Math.max(...samples.map((s) => s.rssKiB));
  const peakFds = Math.max(...samples.map((s) => s.fds));

  t.log(`${run.calls} calls from ${CLIENTS} clients (${USERS.length} users) in ${(run.wallMs / 1000).toFixed(2)} s: ${run.callsPerSecond.toFixed(0)} calls/s`);
  for (const [method, list] of Object.entries(run.samples) as Array<[LoadMethod, number[]]>) {
    const sorted = [...list].sort((a, b) => a - b);
    t.log(`  ${method.padEnd(22)} n=${String(sorted.length).padStart(5)}  p50 ${percentile(sorted, 0.5).toFixed(2)} ms  p99 ${percentile(sorted, 0.99).toFixed(2)} ms`);
  }
  const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
  t.log(`RSS idle ${mib(idle.rssKiB)}, after warm-up ${mib(baseline.rssKiB)}, peak ${mib(peakRss)}, after ${mib(after.rssKiB)}`);
  t.log(`fds idle ${idle.fds}, after warm-up ${fdsBaseline}, peak ${peakFds}, after settling ${fdsAfter}`);
  t.log(`over time: ${timeline(samples)}`);

  t.deepEqual(run.errors, [], `${run.errorCount} calls were not answered with the documented success`);
  t.is(run.calls, CLIENTS * CALLS);
  const expectedPerMethod = (CLIENTS * CALLS) / 6;
  for (const list of Object.values(run.samples)) t.true(Math.abs(list.length - expectedPerMethod) <= CLIENTS);
  t.is(fdsAfter, fdsBaseline, 'the daemon holds more fds than before the run');
  t.true(peakRss - baseline.rssKiB < RSS_GROWTH_LIMIT_KIB, `RSS grew by ${mib(peakRss - baseline.rssKiB)}, limit ${mib(RSS_GROWTH_LIMIT_KIB)}`);
  t.deepEqual(await waitForNoLoopDevicesUnder(base, 5000), [], 'loop devices left');
  t.is(mountCount(pid), daemonMountsBefore, "mounts left in the daemon's mount namespace");
  t.is(mountCount('self'), hostMountsBefore, 'mounts left in the test mount namespace');
});
