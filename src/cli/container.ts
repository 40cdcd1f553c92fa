// Running a command as uid 0 of a namespace from the daemon, through the
// exec'd helper (native/helper/nsmount-run.c), and turning its end into
// nsmountctl's exit status, while signals sent to nsmountctl reach it.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { runHelperPath } from '../native/run-helper';
import { CliError, errnoText } from './errors';
import { errnoName } from '../native/errno';

// Exit statuses of a failed start, as container engines use them.
const START_FAILED = 125;
const NOT_EXECUTABLE = 126;
const NOT_FOUND = 127;

// The command has a process group of its own (in the terminal's
// foreground when there is one), so a signal reaching nsmountctl was sent
// to it on purpose: every one of these is passed on.
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];

export interface Bind {
  /** Path inside the rootfs. */
  target: string;
  /** A mount from the daemon (idmapped for the namespace)... */
  mountFd?: number;
  /** ...or a host path the helper clones as it is, ids unmapped. */
  source?: string;
  readOnly?: boolean;
}

export interface StartOptions {
  /** User namespace fd; the command runs as its uid 0. */
  userNamespaceFd: number;
  /** Mount fd (detached or attached) of the directory tree to run in. */
  rootFd: number;
  /**
   * A writable mount of the same tree, for a read-only rootfs that lacks
   * /proc, /dev or /tmp: the helper creates them through it.
   */
  writableRootFd?: number;
  /**
   * true: new mount and pid namespaces, pivot_root into the tree, fresh
   * /proc, minimal /dev, tmpfs /tmp, binds. false: the command only starts
   * in the tree's root directory (paths outside still resolve on the host).
   */
  container: boolean;
  argv: string[];
  env: Record<string, string>;
  binds?: Bind[];
  /** Becomes the command's standard input; default: inherited. */
  stdinFd?: number;
  /** What the rootfs is, for messages ("the rootfs ~/c", "the image x.img"). */
  rootName?: string;
}

/** A failed start, as the helper reported it. */
export interface StartFailure {
  step: string;
  errno: number;
  detail: string;
}

function startError(failure: StartFailure, opts: StartOptions): CliError {
  const argv0 = opts.argv[0];
  const what = opts.rootName ?? 'the rootfs';
  if (failure.step === 'execute the command') {
    if (failure.errno === 2) return new CliError(`${argv0}: command not found in ${what}`, NOT_FOUND);
    return new CliError(`${argv0}: cannot execute: ${errnoText(errnoName(failure.errno))}`, NOT_EXECUTABLE);
  }
  if (failure.step === 'missing directory') {
    return new CliError(
      `${what} has no ${failure.detail} directory, and it is read-only`,
      START_FAILED,
      'run it once with --writable, which creates whichever of /proc, /dev and /tmp is missing, or add them to it',
    );
  }
  const detail = failure.detail ? ` ${failure.detail}` : '';
  const reason = failure.errno ? `: ${errnoText(errnoName(failure.errno))}` : '';
  return new CliError(`cannot start the command: ${failure.step}${detail}${reason}`, START_FAILED);
}

function jobText(opts: StartOptions, fdOf: (fd: number) => number): Buffer {
  const entries: Array<[string, string]> = [
    ['userns', String(fdOf(opts.userNamespaceFd))],
    ['root', String(fdOf(opts.rootFd))],
    ['container', opts.container ? '1' : '0'],
  ];
  if (opts.writableRootFd !== undefined) entries.push(['mkroot', String(fdOf(opts.writableRootFd))]);
  for (const a of opts.argv) entries.push(['argv', a]);
  for (const [k, v] of Object.entries(opts.env)) entries.push(['env', `${k}=${v}`]);
  for (const b of opts.binds ?? []) {
    if (b.mountFd !== undefined) entries.push(['bindfd', `${fdOf(b.mountFd)}\t${b.target}`]);
    else entries.push(['bindpath', `${b.readOnly ? 1 : 0}\t${b.source}\t${b.target}`]);
  }
  for (const [k, v] of entries) {
    if (k.includes('\0') || v.includes('\0')) throw new CliError(`a NUL byte in ${JSON.stringify(v)}`);
  }
  return Buffer.from(entries.map(([k, v]) => `${k}\0${v}\0`).join(''));
}

/** The helper's report: undefined once the command was exec'd. */
function parseReport(report: Buffer, code: number | null, signal: NodeJS.Signals | null): StartFailure | undefined {
  let text = report.toString('utf8');
  if (text === '') {
    const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
    return { step: `the helper ${how} before the command started`, errno: 0, detail: '' };
  }
  if (text.startsWith('+')) text = text.slice(1);
  if (text === '') return undefined;
  const [step = 'set up', errno = '5', detail = ''] = text.split('\0');
  return { step, errno: Number(errno) || 5, detail };
}

/**
 * Runs to completion; resolves with the shell-style exit status. `release`
 * closes the caller's fds once the helper holds its own copies.
 */
export async function runToCompletion(opts: StartOptions, release: () => void): Promise<number> {
  // fd 3: the job, fd 4: the report, then every fd the job names.
  const passed: number[] = [];
  const fdOf = (fd: number) => {
    let i = passed.indexOf(fd);
    if (i < 0) i = passed.push(fd) - 1;
    return 5 + i;
  };
  const job = jobText(opts, fdOf);
  let child;
  try {
    child = spawn(runHelperPath(), [], {
      argv0: 'nsmount-init',
      env: {},
      stdio: [opts.stdinFd ?? 'inherit', 'inherit', 'inherit', 'pipe', 'pipe', ...passed],
    });
  } finally {
    release();
  }
  const forward = (signal: NodeJS.Signals) => {
    try {
      child.kill(signal);
    } catch {
      // Already gone: its status is on the way.
    }
  };
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of FORWARDED) {
    const handler = () => forward(signal);
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  try {
    const chunks: Buffer[] = [];
    const jobPipe = child.stdio[3] as NodeJS.WritableStream;
    const reportPipe = child.stdio[4] as NodeJS.ReadableStream;
    // The helper may die before reading all of the job; its status says why.
    (jobPipe as unknown as { on(e: string, f: () => void): void }).on('error', () => {});
    jobPipe.end(job);
    reportPipe.on('data', (chunk: Buffer) => chunks.push(chunk));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on('error', (err) => reject(new CliError(`cannot start the helper ${runHelperPath()}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, START_FAILED)));
      child.on('close', (c, s) => resolve([c, s]));
    });
    const failure = parseReport(Buffer.concat(chunks), code, signal);
    if (failure) throw startError(failure, opts);
    // Killed by a signal: in plain mode the helper had become the command.
    if (signal) return 128 + os.constants.signals[signal];
    return code ?? START_FAILED;
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}

/** The environment inside: a clean one, with the few host variables that describe the terminal. */
export function containerEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    container: 'nsmountctl',
  };
  for (const name of ['TERM', 'LANG', 'LC_ALL', 'COLORTERM']) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return { ...env, ...extra };
}
