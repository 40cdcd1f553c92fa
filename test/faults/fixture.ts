// Shared by the fault-injection tests: reading the registry as the daemon
// left it on disk, finding what is mounted and which loop devices are busy,
// and holding namespaces alive from the test process itself.
import fs from 'node:fs';
import path from 'node:path';
import dbus, { type MessageBus } from 'dbus-next';
import type { RegistryDocument } from '../../src/registry/state';
import { RegistryStore } from '../../src/registry/store';
import { parseMountinfo, type MountinfoEntry } from '../../src/mounts/mountinfo';
import { flock, LOCK_EX, LOCK_UN } from '../../src/native/fd';

export const ERR = 'org.nsmount.NsMount1.Error.';

/** The registry as it is on disk (snapshot and journal), read and validated the way the daemon does; throws if it is damaged. */
export function readRegistry(stateDir: string): RegistryDocument {
  return RegistryStore.readDocument(stateDir);
}

/** The registry's files (snapshot, journal, freed-block log) as they are on disk; absent ones are null. */
export function registryFiles(stateDir: string): Record<string, string | null> {
  const files = ['registry.json', 'registry.journal', 'freed.log'];
  return Object.fromEntries(files.map((name) => {
    const file = path.join(stateDir, name);
    return [name, fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null];
  }));
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export { sleep };

async function busCall(bus: MessageBus, member: string, signature: string, body: unknown[]): Promise<unknown[]> {
  const reply = await bus.call(
    new dbus.Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member,
      signature,
      body,
    }),
  );
  return reply?.body ?? [];
}

/** The unique bus names `pid` holds on the bus. */
export async function busNamesOfPid(bus: MessageBus, pid: number): Promise<string[]> {
  const [names] = (await busCall(bus, 'ListNames', '', [])) as [string[]];
  const found: string[] = [];
  for (const name of names.filter((n) => n.startsWith(':'))) {
    try {
      const [owner] = await busCall(bus, 'GetConnectionUnixProcessID', 's', [name]);
      if (owner === pid) found.push(name);
    } catch {
      // Left meanwhile.
    }
  }
  return found;
}

export async function nameHasOwner(bus: MessageBus, name: string): Promise<boolean> {
  const [owned] = await busCall(bus, 'NameHasOwner', 's', [name]);
  return owned === true;
}

/**
 * Opens, in the test process, every user-namespace fd `pid` holds: the
 * namespaces then live as long as the test wants, whatever happens to the
 * client that received them (its bus may die under it).
 */
export function pinNamespacesOf(pid: number): number[] {
  const pinned: number[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('user:[')) pinned.push(fs.openSync(`/proc/${pid}/fd/${fd}`, 'r'));
    } catch {
      // Closed meanwhile.
    }
  }
  return pinned;
}

/** pids of the running hold-namespaces clients of `uid`. */
export function holderPids(uid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      try {
        return fs.statSync(`/proc/${pid}`).uid === uid && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('hold-namespaces');
      } catch {
        return false;
      }
    });
}

/** Mounts at or below `dir` as process `pid` sees them. */
export function mountsBelow(pid: number | 'self', dir: string): MountinfoEntry[] {
  return parseMountinfo(fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8')).filter(
    (m) => m.mountPoint === dir || m.mountPoint.startsWith(dir + '/'),
  );
}

/** Configured loop devices whose backing file is below `dir`, as /dev/loopN. */
export function busyLoopDevices(dir: string): string[] {
  const found: string[] = [];
  for (const name of fs.readdirSync('/sys/block')) {
    if (!name.startsWith('loop')) continue;
    try {
      const backing = fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
      if (backing.startsWith(dir + '/')) found.push(`/dev/${name}`);
    } catch {
      // Not configured.
    }
  }
  return found.sort();
}

/** Lines of the daemon's log (pino JSON) that parse, from index `from` on. */
export function logEntries(lines: string[], from = 0): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of lines.slice(from)) {
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // Not JSON (a warning from a library): not a log entry.
    }
  }
  return out;
}

/** A small seeded PRNG (mulberry32), so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Holds the registry's flock, as another daemon sharing the state directory would; returns the release. */
export function holdRegistryLock(stateDir: string): () => void {
  const fd = fs.openSync(path.join(stateDir, 'registry.lock'), 'r+');
  flock(fd, LOCK_EX);
  return () => {
    flock(fd, LOCK_UN);
    fs.closeSync(fd);
  };
}

/** True once the daemon logged, after line `from`, that a call waits for the registry lock (it polls; it never blocks in flock). */
export function waitsForRegistryLock(logs: string[], from: number): boolean {
  return logEntries(logs, from).some((e) => typeof e.msg === 'string' && e.msg.startsWith('waiting for the registry lock'));
}
