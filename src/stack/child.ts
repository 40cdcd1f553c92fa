// A long-running helper process (dbus-daemon, polkitd, the daemon under
// test) that must never outlive its owner. Each one gets its own process
// group so that stop() also reaches whatever it forked (bus-activated
// services, the shell wrapper around polkitd).
import fs from 'node:fs';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface ManagedChildOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called for every complete line the child writes to stdout or stderr. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Lines kept for error messages; older ones are dropped. */
  keepLines?: number;
}

export interface ManagedChild {
  readonly pid: number;
  readonly process: ChildProcess;
  /** The last lines of output, both streams interleaved in arrival order. */
  readonly lines: string[];
  /** Resolves with the exit code (null when killed by a signal) once the child is gone. */
  readonly exited: Promise<number | null>;
  readonly exitSignal: () => NodeJS.Signals | null;
  readonly running: () => boolean;
  /** Resolves with the first line (already seen or future) that matches; rejects if the child exits first. */
  waitForLine(match: RegExp | ((line: string) => boolean), opts?: { timeoutMs?: number; fromLine?: number }): Promise<string>;
  /** Count of lines seen so far, to pass as fromLine. */
  lineCount(): number;
  /** SIGTERM the whole group, SIGKILL it after graceMs; resolves with the exit code. */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<number | null>;
}

export function spawnManaged(file: string, args: string[], opts: ManagedChildOptions = {}): ManagedChild {
  const spawnOpts: SpawnOptions = {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  };
  const child = spawn(file, args, spawnOpts);
  if (child.pid === undefined) {
    // spawn() reports ENOENT asynchronously; a missing pid means it failed.
    throw new Error(`cannot start ${file}`);
  }
  const pid = child.pid;
  const keep = opts.keepLines ?? 400;
  const lines: string[] = [];
  let seen = 0;
  const waiters = new Set<(line: string | null) => void>();
  let running = true;
  let signal: NodeJS.Signals | null = null;

  const exited = new Promise<number | null>((resolve) => {
    child.on('error', () => {
      running = false;
      resolve(null);
    });
    child.on('exit', (code, sig) => {
      running = false;
      signal = sig;
      // 'exit' can come before the last output is read: wait for the
      // pipes to close too, but not forever, since a grandchild may hold them.
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        for (const w of waiters) w(null);
        resolve(code);
      };
      const timer = setTimeout(done, 1000);
      child.once('close', done);
    });
  });

  const push = (line: string, stream: 'stdout' | 'stderr') => {
    lines.push(line);
    if (lines.length > keep) lines.shift();
    seen++;
    opts.onLine?.(line, stream);
    for (const w of waiters) w(line);
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    let partial = '';
    const readable = child[stream]!;
    readable.setEncoding('utf8');
    readable.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const part of parts) push(part, stream);
    });
    readable.on('end', () => {
      if (partial) push(partial, stream);
      partial = '';
    });
  }

  const waitForLine: ManagedChild['waitForLine'] = (match, wopts = {}) => {
    const test = typeof match === 'function' ? match : (l: string) => match.test(l);
    const from = wopts.fromLine ?? 0;
    // lines[] may have been trimmed: map the absolute index onto it.
    const firstKept = seen - lines.length;
    for (let i = Math.max(from - firstKept, 0); i < lines.length; i++) {
      if (test(lines[i])) return Promise.resolve(lines[i]);
    }
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        waiters.delete(waiter);
        if (timer) clearTimeout(timer);
      };
      const waiter = (line: string | null) => {
        if (line === null) {
          done();
          reject(new Error(`${file} exited before printing a line matching ${match}:\n${lines.join('\n')}`));
        } else if (test(line)) {
          done();
          resolve(line);
        }
      };
      if (!running) return waiter(null);
      waiters.add(waiter);
      if (wopts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${wopts.timeoutMs} ms waiting for ${file} to print ${match}`));
        }, wopts.timeoutMs);
      }
    });
  };

  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // Group already empty.
    }
  };

  const stop: ManagedChild['stop'] = async ({ signal: sig = 'SIGTERM', graceMs = 3000 } = {}) => {
    killGroup(sig);
    const timer = setTimeout(() => killGroup('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    // The leader is gone; make sure nothing it forked lingers in the group.
    killGroup('SIGKILL');
    await groupGone(pid, 5000);
    return code;
  };

  return {
    pid,
    process: child,
    lines,
    exited,
    exitSignal: () => signal,
    running: () => running,
    waitForLine,
    lineCount: () => seen,
    stop,
  };
}

/** Whether any process, zombies included, is still in process group pgid. */
function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Live (non-zombie) members of process group pgid. Reading another
 * process's /proc/PID/stat can block (a process stuck on a FUSE server),
 * so each read runs on libuv's pool and one that does not answer within
 * STAT_READ_MS is left out rather than stalling Node's only thread.
 */
const STAT_READ_MS = 500;
async function liveGroupMembers(pgid: number): Promise<number[]> {
  const pids = fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  const isLiveMember = async (entry: string): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), STAT_READ_MS)));
    const stat = await Promise.race([fs.promises.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined), late]);
    clearTimeout(timer);
    if (stat === undefined) return false;
    // Fields after the parenthesised command: state ppid pgrp ...
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] !== 'Z' && Number(fields[2]) === pgid;
  };
  const live = await Promise.all(pids.map(isLiveMember));
  return pids.filter((_, k) => live[k]).map(Number);
}

/**
 * SIGKILL is asynchronous: wait until the group is really empty, so that
 * a caller checking for leftovers right after stop() sees none. Orphans
 * are reaped by whatever PID 1 is, maybe late, so zombies count as gone:
 * kill(-pgid, 0) answers the common case without reading /proc at all.
 */
async function groupGone(pgid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (groupExists(pgid) && (await liveGroupMembers(pgid)).length > 0) {
    if (Date.now() > deadline) throw new Error(`process group ${pgid} still has members after SIGKILL`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
