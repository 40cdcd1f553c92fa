// Running a command as a test user, the way an unprivileged client would
// run: real and effective ids switched, supplementary groups from
// users.ts, no capabilities left (setpriv drops them with the uid change).
import { spawn } from 'node:child_process';
import type { TestUser } from './users';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunAsUserOptions {
  /** Parent fds handed to the child as its fds 3, 4, ... in this order. */
  fds?: number[];
  /** Written to stdin, which is then closed. */
  input?: string;
  /** Environment of the child: only PATH is inherited, these are added. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** `user` 'root' runs the command unchanged (as the test runner), for comparison cases. */
export function runAsUser(user: TestUser | 'root', argv: string[], opts: RunAsUserOptions = {}): Promise<RunResult> {
  const prefix =
    user === 'root'
      ? []
      : [
          'setpriv',
          '--reuid',
          String(user.uid),
          '--regid',
          String(user.gid),
          ...(user.groups.length ? ['--groups', user.groups.join(',')] : ['--clear-groups']),
          '--',
        ];
  const command = [...prefix, ...argv];
  const child = spawn(command[0], command.slice(1), {
    env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...opts.env },
    cwd: opts.cwd ?? '/',
    stdio: ['pipe', 'pipe', 'pipe', ...(opts.fds ?? [])],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin!.on('error', () => {});
  child.stdin!.end(opts.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
