// Running a command in a namespace from the daemon and turning its end into
// nsmountctl's exit status, while signals sent to nsmountctl reach it.
import { startContainer, waitContainer, exitCodeOf, ContainerStartError, type StartOptions } from '../native/container';
import { Errno } from '../native/errno';
import { CliError } from './errors';

// Exit statuses of a failed start, as container engines use them.
const START_FAILED = 125;
const NOT_EXECUTABLE = 126;
const NOT_FOUND = 127;

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGCONT'];
// A terminal sends these to the whole foreground process group, which the
// command is part of; forwarding them too would deliver them twice.
const TERMINAL: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT'];

function startError(err: ContainerStartError, argv0: string): CliError {
  if (err.step === 'execute the command') {
    if (err.errno === Errno.ENOENT) return new CliError(`${argv0}: command not found in the rootfs`, NOT_FOUND);
    return new CliError(`${argv0}: cannot execute (${err.code})`, NOT_EXECUTABLE);
  }
  return new CliError(`cannot start the command: ${err.message}`, START_FAILED);
}

/** Runs to completion; resolves with the shell-style exit status. */
export async function runToCompletion(opts: StartOptions, release: () => void): Promise<number> {
  // Handlers go in before the start: a signal that arrives while the
  // command is starting is queued by libuv and forwarded once its pid is
  // known, instead of killing nsmountctl and orphaning the container.
  let pid: number | undefined;
  const pending: NodeJS.Signals[] = [];
  const forward = (signal: NodeJS.Signals) => {
    if (pid === undefined) {
      pending.push(signal);
      return;
    }
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone: its status is on the way.
    }
  };
  const terminalOwned = process.stdin.isTTY === true;
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of [...FORWARDED, ...TERMINAL]) {
    // Ignored when the terminal delivers it itself, but never fatal to us.
    const handler = terminalOwned && TERMINAL.includes(signal) ? () => {} : () => forward(signal);
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  try {
    try {
      pid = startContainer(opts);
    } catch (err) {
      if (err instanceof ContainerStartError) throw startError(err, opts.argv[0]);
      throw err;
    } finally {
      // The children hold their own copies of every fd they need.
      release();
    }
    for (const signal of pending.splice(0)) forward(signal);
    return exitCodeOf(await waitContainer(pid));
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
