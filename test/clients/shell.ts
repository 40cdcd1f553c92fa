import { spawn, type StdioOptions } from 'node:child_process';

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` with /bin/sh, capturing its output; `extraFds` become its fds 3, 4, ... */
export function runShell(command: string, opts: { extraFds?: number[]; env: NodeJS.ProcessEnv }): Promise<ShellResult> {
  const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', ...(opts.extraFds ?? [])];
  const child = spawn('/bin/sh', ['-c', command], { stdio, env: opts.env });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
