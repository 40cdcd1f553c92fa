// test/clients/loosen-mount.py: an unprivileged caller trying to clear the
// flags of the mounts it was handed (see the script for what it tries).
import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from './paths';

export const LOOSEN_CLIENT = path.join(PACKAGE_ROOT, 'test/clients/loosen-mount.py');
export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** One mount's report: flags before and after, each attempt's outcome ("ok" or an errno name). */
export interface LoosenTry {
  before: string[];
  after: string[];
  tries: Record<string, string>;
  loosened: string[];
}

export interface LoosenFd extends LoosenTry {
  fd: number;
  attach?: string;
  subs?: Record<string, LoosenTry>;
  read?: string;
  write?: string;
}

/** Parses the script's one JSON line. */
export function parseLoosen(stdout: string): { fds?: LoosenFd[]; error?: string } {
  try {
    return JSON.parse(stdout.trim() || '{}');
  } catch {
    return { error: `not JSON: ${stdout}` };
  }
}
