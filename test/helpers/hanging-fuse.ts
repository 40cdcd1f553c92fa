// A real FUSE file system (python3-fusepy, test/helpers/hanging-fuse-server.py)
// whose server can stop answering, for tests of what a caller's file on
// such a file system does to nsmountd. It serves, read-only:
//   image.img   the bytes of a real file (`backing`), owned by `owner`,
//               read-only unless `writable`
//   dir/, dir/sub/   directories owned by `owner`
//   dir/foreign/     a directory owned by the foreign range's root
// hang() holds back every request from then on (lookup, getattr, open,
// read, readdir...) but closes (FLUSH, RELEASE): every process that held a
// passed fd closes it, the bus daemon among them, and that is not what the
// tests are about; hang({ closes: true }) holds those too. release()
// answers again. Attribute and entry timeouts are 0, so the kernel asks the
// server whenever it may.
//
// Bounded, because a process waiting on a FUSE server cannot be killed and
// makes /proc reads of it hang for everyone on the machine:
// - the server answers any held request after `holdLimitSec` anyway;
// - stop() aborts the connection through fusectl (every request in flight
//   fails at once) before it unmounts, and never stats the mount point;
// - mounted by root in the test run's private mount namespace only.
// The test process itself must not touch the file system while it hangs:
// keep fds opened before hang() and close them after release().
import { spawn, execFile, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from './paths';

const SERVER = path.join(PACKAGE_ROOT, 'test/helpers/hanging-fuse-server.py');
// Debian's python3-fusepy is for the system's python, not a pyenv one on PATH.
const PYTHON = '/usr/bin/python3';
const FUSECTL = '/sys/fs/fuse/connections';

export interface HangingFuseOptions {
  /** A directory to mount under (as `dir`/fuse). */
  dir: string;
  /** The file image.img serves. */
  backing: string;
  owner: { uid: number; gid: number };
  /** A held request is answered after this long whatever happens; default 120. */
  holdLimitSec?: number;
  /**
   * Mount with default_permissions: the kernel checks permissions itself,
   * after refreshing the attributes from the server (GETATTR), on every
   * directory a path walk passes, ".." included.
   */
  defaultPermissions?: boolean;
  /** image.img takes writes, into `backing` (mode 0664, so its owner may open it read-write); the directories stay read-only. */
  writable?: boolean;
}

export interface HangingFuse {
  mountpoint: string;
  /** Paths of the served files; open them before hang(). */
  image: string;
  directory: string;
  /** dir/foreign, owned by the foreign range's root, below `directory`. */
  foreignDirectory: string;
  /** The FUSE connection's number in fusectl (the minor of its device). */
  connection: number;
  /** Requests the server holds back or held back since start: "held OP PATH" lines. */
  held(): string[];
  /**
   * Resolves with the first held request (of `op`, if given) after the
   * first `since` ones, once the server holds it; rejects after `timeoutMs`.
   */
  waitForHeld(options?: { op?: string; since?: number; timeoutMs?: number }): Promise<string>;
  /** Holds every request from now on but closes (all of them with `closes`), or only requests of `op`. */
  hang(options?: { closes?: boolean; op?: string }): Promise<void>;
  release(): Promise<void>;
  /** Answers the requests held so far, and keeps holding new ones as before. */
  releaseHeld(): Promise<void>;
  /** Fails every request in flight and every later one (ENOTCONN): a server gone for good. */
  abort(): void;
  /** Aborts, unmounts and ends the server; safe to call twice. */
  stop(): Promise<void>;
}

function mountinfoLine(mountpoint: string): string[] | undefined {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .find((fields) => fields[4] === mountpoint);
}

/** fusectl in the test run's own mount namespace (scripts/test.js made it private). */
function fusectlMounted(): boolean {
  const line = mountinfoLine(FUSECTL);
  return line !== undefined && line[line.indexOf('-') + 1] === 'fusectl';
}

function ensureFusectl(): void {
  if (fusectlMounted()) return;
  try {
    fs.mkdirSync(FUSECTL, { recursive: true });
  } catch {
    // sysfs makes it when the fuse module is loaded; mount tells what is wrong.
  }
  try {
    execFileSync('mount', ['-t', 'fusectl', 'none', FUSECTL], { stdio: 'pipe', timeout: 5000 });
  } catch (e) {
    // Test files share the run's mount namespace: another one may have mounted it since we looked.
    if (!fusectlMounted()) throw e;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startHangingFuse(options: HangingFuseOptions): Promise<HangingFuse> {
  ensureFusectl();
  const mountpoint = path.join(options.dir, 'fuse');
  fs.mkdirSync(mountpoint, { recursive: true });
  const holdLimitSec = options.holdLimitSec ?? 120;
  const server: ChildProcessWithoutNullStreams = spawn(
    PYTHON,
    [
      SERVER,
      mountpoint,
      options.backing,
      String(options.owner.uid),
      String(options.owner.gid),
      String(holdLimitSec),
      ...(options.defaultPermissions ? ['default_permissions'] : []),
      ...(options.writable ? ['writable'] : []),
    ],
    { stdio: 'pipe' },
  );
  let stderr = '';
  server.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let buffered = '';
  server.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      lines.push(buffered.slice(0, i));
      buffered = buffered.slice(i + 1);
    }
    for (const listener of listeners) listener();
  });
  const exited = new Promise<void>((resolve) => server.on('exit', () => resolve()));
  /** Waits until a line not seen before matches, from `from` on. */
  const waitForLine = async (match: (line: string) => boolean, from: number, timeoutMs: number, what: string): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.slice(from).find(match);
      if (found !== undefined) return found;
      if (server.exitCode !== null || server.signalCode !== null) throw new Error(`FUSE server ended before ${what}: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`FUSE server: no ${what} within ${timeoutMs} ms: ${stderr}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          listeners.delete(wake);
          resolve();
        };
        listeners.add(wake);
        setTimeout(wake, 50);
      });
    }
  };

  let connection = -1;
  try {
    await waitForLine((l) => l === 'ready', 0, 20000, '"ready"');
    for (let tries = 0; ; tries++) {
      const line = mountinfoLine(mountpoint);
      if (line) {
        connection = Number(line[2].split(':')[1]);
        break;
      }
      if (server.exitCode !== null || tries > 400) throw new Error(`FUSE file system not mounted: ${stderr}`);
      await sleep(25);
    }
  } catch (err) {
    server.kill('SIGKILL');
    throw err;
  }

  const command = async (word: string) => {
    const from = lines.length;
    server.stdin.write(`${word}\n`);
    await waitForLine((l) => l === word, from, 20000, `echo of "${word}"`);
  };
  const abort = () => {
    try {
      fs.writeFileSync(`${FUSECTL}/${connection}/abort`, '1');
    } catch {
      // The connection is gone already.
    }
  };
  let stopped: Promise<void> | undefined;
  return {
    mountpoint,
    image: path.join(mountpoint, 'image.img'),
    directory: path.join(mountpoint, 'dir'),
    foreignDirectory: path.join(mountpoint, 'dir', 'foreign'),
    connection,
    held: () => lines.filter((line) => line.startsWith('held ')),
    async waitForHeld({ op, since = 0, timeoutMs = 30000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.filter((l) => l.startsWith('held ')).slice(since).find((l) => !op || l.startsWith(`held ${op} `));
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`FUSE server: no held ${op ?? 'request'} within ${timeoutMs} ms: ${stderr}`);
        await sleep(25);
      }
    },
    hang: ({ closes = false, op }: { closes?: boolean; op?: string } = {}) => command(op ? `hang-op ${op}` : closes ? 'hang-all' : 'hang'),
    release: () => command('release'),
    releaseHeld: () => command('release-held'),
    abort,
    stop() {
      stopped ??= (async () => {
        abort();
        // -c: no canonicalizing, which would stat the mount point.
        await new Promise<void>((resolve) => execFile('umount', ['-l', '-c', mountpoint], { timeout: 10000 }, () => resolve()));
        server.stdin.end();
        server.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (server.exitCode === null && server.signalCode === null) {
          server.kill('SIGKILL');
          await Promise.race([exited, sleep(5000)]);
        }
      })();
      return stopped;
    },
  };
}
