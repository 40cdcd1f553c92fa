// Calling nsmountd from a separate process as a given user, through the
// generic call client, and reading back its one JSON line.
import { runAsUser } from './as-user';
import { CALL_CLIENT } from './paths';
import type { TestUser } from './users';

export interface FdReport {
  index: number;
  fd: number;
  readlink?: string;
  stat?: { mode: number; uid: number; gid: number; dev: number; ino: number };
  nsOwnerUid?: number;
}

export type CallResult =
  | { ok: true; body: unknown[]; fds: FdReport[]; then?: { code: number | null; stdout: string; stderr: string } }
  | { ok: false; name: string; message: string };

export interface CallOptions {
  interactive?: boolean;
  /** Shell command run by the client with the received fds as $FD0, $FD1, ... */
  then?: string;
  openMode?: string;
  timeoutMs?: number;
}

export async function callAs(
  user: TestUser | 'root',
  address: string,
  member: string,
  signature: string,
  body: unknown[],
  opts: CallOptions = {},
): Promise<CallResult> {
  const argv = [
    process.execPath,
    CALL_CLIENT,
    '--address',
    address,
    '--member',
    member,
    '--signature',
    signature,
    '--body',
    JSON.stringify(body),
  ];
  if (opts.interactive) argv.push('--interactive');
  if (opts.then !== undefined) argv.push('--then', opts.then);
  if (opts.openMode) argv.push('--open-mode', opts.openMode);
  if (opts.timeoutMs) argv.push('--timeout-ms', String(opts.timeoutMs));
  const result = await runAsUser(user, argv, { timeoutMs: (opts.timeoutMs ?? 30000) + 5000 });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as CallResult;
  } catch {
    throw new Error(`call client printed no JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
  }
}

/** Shorthand for a variant in call bodies. */
export const v = (signature: string, value: unknown) => ({ $v: [signature, value] });
