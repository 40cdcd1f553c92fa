// What a fuzz run must leave as it found it: the daemon alive and owning
// its name, its fd count, the mounts and loop devices below the run's
// directories, and a well-formed registry with nothing left for the fuzz
// users. Kept apart from run.ts, which starts the stack and the clients,
// because these are the checks the tests make after them.
import fs from 'node:fs';
import { SERVICE_NAME } from '../helpers/paths';
import { callBus } from '../../src/stack/bus-connection';
import { RegistryStore } from '../../src/registry/store';
import { BLOCK, FUZZ_USERS, POOL, type FuzzStack } from './run';

export interface Baseline {
  pid: number;
  fds: number;
  mounts: string[];
  loops: string[];
  logLines: number;
}

/** Mount points below this run's directories, as the daemon sees them. */
function ourMounts(f: FuzzStack): string[] {
  const roots = [f.dir, f.stack.baseDir];
  return fs
    .readFileSync(`/proc/${f.stack.daemon.pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4].replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((mp) => roots.some((r) => mp === r || mp.startsWith(r + '/')))
    .sort();
}

/** Loop devices backed by this run's files or memfds (other test files use loop devices too). */
function ourLoops(f: FuzzStack): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
    let backing: string;
    try {
      backing = fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
    } catch {
      continue; // not bound
    }
    if (backing.startsWith(f.dir + '/') || backing.includes(f.token) || backing === f.loopDevice) out.push(`${name}:${backing}`);
  }
  return out.sort();
}

export function takeBaseline(f: FuzzStack): Baseline {
  return { pid: f.stack.daemon.pid, fds: f.stack.daemon.fdCount(), mounts: ourMounts(f), loops: ourLoops(f), logLines: f.stack.daemon.logs.length };
}

/** What differs from the baseline once the daemon settled; empty when nothing does. */
export async function differencesAfter(f: FuzzStack, baseline: Baseline, settleMs = 15000): Promise<string[]> {
  const problems: string[] = [];
  const pid = f.stack.daemon.pid;
  let alive = true;
  try {
    process.kill(baseline.pid, 0);
  } catch {
    alive = false;
  }
  if (!alive || pid !== baseline.pid) return [`the daemon (pid ${baseline.pid}) is gone${pid !== baseline.pid ? `; pid is now ${pid}` : ''}`];
  const [owner] = await callBus(f.stack.connection, 'GetConnectionUnixProcessID', 's', [SERVICE_NAME]).catch((e: Error) => [e.message]);
  if (owner !== baseline.pid) problems.push(`${SERVICE_NAME} is owned by pid ${String(owner)}, not the daemon ${baseline.pid}`);

  // Loop autoclear, namespace teardown and the reclaim sweep are asynchronous: poll.
  const deadline = Date.now() + settleMs;
  let now = takeBaseline(f);
  let registry = registryProblems(f, { settled: true });
  // Fewer fds than at the start is no leak: the baseline may have caught one in flight.
  const same = () => now.fds <= baseline.fds && equal(now.mounts, baseline.mounts) && equal(now.loops, baseline.loops) && registry.length === 0;
  while (!same() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    now = takeBaseline(f);
    registry = registryProblems(f, { settled: true });
  }
  if (now.fds > baseline.fds) {
    const fds = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return `${fd} -> ${fs.readlinkSync(`/proc/${pid}/fd/${fd}`)}`; } catch { return fd; } });
    problems.push(`daemon fd count ${now.fds}, was ${baseline.fds}:\n  ${fds.join('\n  ')}`);
  }
  if (!equal(now.mounts, baseline.mounts)) problems.push(`mounts below the run's directories differ:\n  before ${JSON.stringify(baseline.mounts)}\n  after  ${JSON.stringify(now.mounts)}`);
  if (!equal(now.loops, baseline.loops)) problems.push(`loop devices differ:\n  before ${JSON.stringify(baseline.loops)}\n  after  ${JSON.stringify(now.loops)}`);
  problems.push(...registry);
  const errors = f.stack.daemon.logs.slice(baseline.logLines).filter((l) => /"level":(50|60)/.test(l));
  if (errors.length) problems.push(`the daemon logged ${errors.length} errors, e.g.:\n  ${errors.slice(0, 3).join('\n  ')}`);
  return problems;
}

const equal = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The registry file is well formed and no block is handed out twice. Once
 * settled (every client gone, so every namespace and attachment with it),
 * it must hold nothing for the fuzz users.
 */
export function registryProblems(f: FuzzStack, opts: { settled: boolean }): string[] {
  let state;
  try {
    state = RegistryStore.readDocument(f.stack.stateDir);
  } catch (err) {
    return [`the registry is invalid: ${(err as Error).message}`];
  }
  const problems: string[] = [];
  const bases = new Map<number, string>();
  const ids = new Set<string>();
  for (const n of state.namespaces) {
    const who = `${n.name}@${n.ownerUid}`;
    if (n.base % BLOCK !== 0 || n.base < POOL.first || n.base + BLOCK - 1 > POOL.last) problems.push(`namespace ${who}: base ${n.base} is not a pool block`);
    if (!Number.isInteger(n.size) || n.size < 1 || n.size > BLOCK) problems.push(`namespace ${who}: size ${n.size}`);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(n.name)) problems.push(`namespace ${who}: malformed name`);
    if (bases.has(n.base)) problems.push(`block ${n.base} is held by both ${bases.get(n.base)} and ${who}`);
    bases.set(n.base, who);
    if (ids.has(n.namespaceId)) problems.push(`namespace id ${n.namespaceId} is recorded twice`);
    ids.add(n.namespaceId);
  }
  const mountIds = new Set<string>();
  for (const m of state.mounts) {
    if (mountIds.has(m.mountId)) problems.push(`mount id ${m.mountId} is recorded twice`);
    mountIds.add(m.mountId);
  }
  if (opts.settled) {
    const uids = new Set(FUZZ_USERS.map((u) => u.user.uid));
    const ns = state.namespaces.filter((n) => uids.has(n.ownerUid));
    if (ns.length) problems.push(`namespaces of fuzz users still recorded after they exited: ${ns.map((n) => `${n.name}@${n.ownerUid}`).join(', ')}`);
    const mounts = state.mounts.filter((m) => uids.has(m.ownerUid));
    if (mounts.length) problems.push(`attachments of fuzz users still recorded after their cleanup: ${mounts.map((m) => m.target).join(', ')}`);
  }
  return problems;
}
