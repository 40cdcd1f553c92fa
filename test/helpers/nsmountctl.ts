// Running bin/nsmountctl as a test user against a test stack, the way a
// person would: a separate process with the user's credentials.
import path from 'node:path';
import { runAsUser, type RunAsUserOptions, type RunResult } from './as-user';
import { PACKAGE_ROOT } from './paths';
import type { TestUser } from './users';

export const NSMOUNTCTL_BIN = path.join(PACKAGE_ROOT, 'bin/nsmountctl');

export function nsmountctl(
  user: TestUser | 'root',
  address: string | undefined,
  args: string[],
  opts: RunAsUserOptions = {},
): Promise<RunResult> {
  const global = address === undefined ? [] : ['--address', address];
  return runAsUser(user, [process.execPath, NSMOUNTCTL_BIN, ...global, ...args], opts);
}

/** The one-line error contract: exactly one line on stderr, naming the command, no stack frame. */
export function isOneLineError(stderr: string): boolean {
  const lines = stderr.trimEnd().split('\n');
  return lines.length === 1 && lines[0].startsWith('nsmountctl') && !/\bat .+:\d+:\d+\)?$/m.test(stderr);
}
