// Runs test/clients/session.ts as a test user: several calls on one
// connection, later ones passing fds that earlier ones received.
import path from 'node:path';
import { runAsUser } from './as-user';
import { PACKAGE_ROOT } from './paths';
import type { TestUser } from './users';

export const SESSION_CLIENT = path.join(PACKAGE_ROOT, 'dist/test/clients/session.js');
export const ATTACH_CLIENT = path.join(PACKAGE_ROOT, 'dist/test/clients/attach-mount.js');

export interface SessionStep {
  name: string;
  member: string;
  signature: string;
  body: unknown[];
  interactive?: boolean;
}

export type StepResult =
  | { name: string; ok: true; body: unknown[]; fds: number[] }
  | { name: string; ok: false; error: string; message: string };

export interface SessionResult {
  steps: Record<string, StepResult>;
  then?: { code: number | null; stdout: string; stderr: string };
}

/** Shorthand for {"$ref": step}: the fd an earlier step received. */
export const ref = (step: string, index = 0) => ({ $ref: step, index });

export async function runSession(
  user: TestUser | 'root',
  address: string,
  steps: SessionStep[],
  opts: { then?: string; fds?: number[] } = {},
): Promise<SessionResult> {
  const script = JSON.stringify({ steps, then: opts.then });
  const r = await runAsUser(user, [process.execPath, SESSION_CLIENT, '--address', address, '--script', script], { fds: opts.fds });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: { steps?: StepResult[]; then?: SessionResult['then']; fatal?: string };
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`session client printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  if (parsed.fatal || !parsed.steps) throw new Error(`session client failed: ${parsed.fatal}\n${r.stderr}`);
  return { steps: Object.fromEntries(parsed.steps.map((s) => [s.name, s])), then: parsed.then };
}

/** A shell command running `inner` as root of the user namespace $FD_<ns>, in a new mount namespace. */
export function inNamespace(nsStep: string, inner: string): string {
  return `nsenter --user=/proc/self/fd/$FD_${nsStep} -- unshare --mount -- sh -c ${shellQuote(inner)}`;
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
