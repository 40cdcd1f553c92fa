// Runs test/clients/raw-peer.py as a user: messages written byte by byte
// to the daemon, then a Ping, and the replies by label.
import path from 'node:path';
import { runAsUser } from './as-user';
import { PACKAGE_ROOT, SERVICE_NAME } from './paths';
import type { TestUser } from './users';

const RAW_PEER = path.join(PACKAGE_ROOT, 'test/clients/raw-peer.py');

export interface RawMessage {
  label: string;
  /** 1 method call (default), 4 signal. */
  type?: number;
  flags?: number;
  endian?: 'l' | 'B';
  path?: string;
  interface?: string;
  member?: string;
  signature?: string;
  /** Values for `signature`; a variant is [signature, value]. */
  body?: unknown[];
  /** A body of one array: `count` copies of the marshalled element `unitHex`, aligned to `align` (8 for structs and dict entries). */
  bigArray?: { unitHex: string; count: number; align?: number };
  /** How many fds (of /dev/null) to attach. */
  fds?: number;
  /** Header fields beyond the standard ones: [code, signature, value]. */
  extraFields?: Array<[number, string, unknown]>;
}

export type RawReply = { type: 'return' } | { type: 'error'; name: string; message: string };

/** Replies by label ("ping" for the Ping sent last); `_end` says why the wait ended early. */
export type RawReplies = Record<string, RawReply> & { _end?: string };

export async function sendRawMessages(user: TestUser | 'root', address: string, messages: RawMessage[]): Promise<RawReplies> {
  const input = JSON.stringify({ address, destination: SERVICE_NAME, messages, timeoutSeconds: 30 });
  const result = await runAsUser(user, ['/usr/bin/python3', RAW_PEER], { input });
  const last = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as RawReplies;
  } catch {
    throw new Error(`raw peer printed no JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
  }
}
