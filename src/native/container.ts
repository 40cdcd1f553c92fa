// Running a command as uid 0 of a user namespace nsmountd handed out, on a
// mount it made: the native side (native/container.c) does all namespace
// work in children, so Node itself is never forked.
import { libnsmount } from './library';
import { SystemError } from '../errors';

const nsm_container_start = libnsmount.func(
  'int nsm_container_start(int userns_fd, int rootfs_fd, int stdin_fd, uint32_t flags, const uint8_t *argv_buf, size_t argv_len, uint32_t argc, const uint8_t *env_buf, size_t env_len, uint32_t envc, const uint8_t *binds_buf, size_t binds_len, uint32_t n_binds, _Out_ int *failed_step, _Out_ int *failed_index)',
);
const nsm_container_wait = libnsmount.func('int nsm_container_wait(int pid)');

const RUN_CONTAINER = 1;

// Indexed by enum nsm_run_step in native/container.c.
const STEP_NAMES = [
  'set up',
  'setns(CLONE_NEWUSER)',
  'setgroups',
  'setresgid',
  'setresuid',
  'unshare(CLONE_NEWNS|CLONE_NEWPID)',
  'make the mount namespace private',
  'clone the bind source',
  'make the bind read-only',
  'clone the host device',
  'attach the rootfs',
  'open the rootfs',
  'open the bind target',
  'attach the bind',
  'mount /tmp',
  'mount /dev',
  'bind the device node',
  'start the container init',
  'mount /proc',
  'pivot_root',
  'signalfd',
  'fork the command',
  'execute the command',
  'enter the rootfs',
  'redirect standard input',
];

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

export interface Bind {
  source: string;
  /** Path inside the rootfs. */
  target: string;
  readOnly: boolean;
}

export interface StartOptions {
  /** User namespace fd; the command runs as its uid 0. */
  userNamespaceFd: number;
  /** Mount fd (detached or attached) of the directory tree to run in. */
  rootFd: number;
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
}

/** A failed start; `step` says which part of the setup failed. */
export class ContainerStartError extends SystemError {
  constructor(
    errno: number,
    readonly step: string,
    readonly bindIndex?: number,
  ) {
    super(errno, step);
  }
}

function packStrings(values: string[]): Buffer {
  for (const v of values) if (v.includes('\0')) throw new Error(`a NUL byte in ${JSON.stringify(v)}`);
  return Buffer.from(values.map((v) => v + '\0').join(''));
}

function describeStep(step: number, index: number, binds: Bind[]): string {
  const name = STEP_NAMES[step] ?? `container step ${step}`;
  if (step >= 7 && step <= 8) return `${name} ${binds[index]?.source ?? ''}`.trim();
  if (step >= 12 && step <= 13) return `${name} ${binds[index]?.target ?? ''}`.trim();
  if (step === 9 || step === 16) return `${name} /dev/${DEVICES[index] ?? '?'}`;
  return name;
}

/** Starts the command; returns the pid to wait for and to signal. */
export function startContainer(opts: StartOptions): number {
  const binds = opts.binds ?? [];
  const argv = packStrings(opts.argv);
  const env = packStrings(Object.entries(opts.env).map(([k, v]) => `${k}=${v}`));
  const bindStrings = packStrings(binds.flatMap((b) => [b.source, b.target, b.readOnly ? 'ro' : 'rw']));
  const step = [0];
  const index = [0];
  const pid = nsm_container_start(
    opts.userNamespaceFd,
    opts.rootFd,
    opts.stdinFd ?? -1,
    opts.container ? RUN_CONTAINER : 0,
    argv,
    argv.length,
    opts.argv.length,
    env,
    env.length,
    Object.keys(opts.env).length,
    bindStrings,
    bindStrings.length,
    binds.length,
    step,
    index,
  ) as number;
  if (pid < 0) throw new ContainerStartError(-pid, describeStep(step[0], index[0], binds), index[0]);
  return pid;
}

/** Waits on a worker thread; resolves with the raw wait status. */
export function waitContainer(pid: number): Promise<number> {
  return new Promise((resolve, reject) => {
    nsm_container_wait.async(pid, (err: unknown, status: number) => {
      if (err) reject(err);
      else if (status < 0) reject(new SystemError(-status, 'waitpid'));
      else resolve(status);
    });
  });
}

/** A shell's view of a wait status: the exit code, or 128 + the signal. */
export function exitCodeOf(status: number): number {
  const signal = status & 0x7f;
  return signal === 0 ? (status >> 8) & 0xff : 128 + signal;
}
