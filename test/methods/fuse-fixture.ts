// Shared by the tests of callers' files on a FUSE file system whose server
// stops answering (test/helpers/hanging-fuse.ts): a stack, the hanging
// file system serving a real ext4 image and directories owned by alice,
// and calls made with fds the test opened before the server hangs.
import test from 'ava';
import fs from 'node:fs';
import { rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import type { TestStack, TestStackOptions } from '../helpers/stack';
import { runAsUser } from '../helpers/as-user';
import { CALL_CLIENT } from '../helpers/paths';
import { alice, bob, type TestUser } from '../helpers/users';
import { makeExt4, tempDir } from '../helpers/images';
import { removeTree } from '../helpers/cleanup';
import { startHangingFuse, type HangingFuse } from '../helpers/hanging-fuse';
import type { CallResult } from '../helpers/call';

export interface FuseFixture {
  stack: TestStack;
  fuse: () => HangingFuse;
  base: () => string;
}

/** Registers the file's hooks: the FUSE file system is aborted and gone before the stack stops. */
export function useHangingFuse(stackOptions: TestStackOptions, fuseOptions: { defaultPermissions?: boolean; writable?: boolean } = {}): FuseFixture {
  let fuse: HangingFuse | undefined;
  let base: string | undefined;
  test.before(async () => {
    if (rootSkipReason) return;
    base = tempDir('nsmountd-fuse-');
    fs.chmodSync(base, 0o755);
    const backing = makeExt4(base, 'backing.ext4', { sizeMiB: 8 });
    fuse = await startHangingFuse({ dir: base, backing, owner: alice, ...fuseOptions });
  });
  // Declared before the stack's own hook, so it runs first: a daemon
  // thread waiting on the server could not end otherwise.
  test.serial.after.always(async () => {
    await fuse?.stop();
  });
  const stack = useTestStack(stackOptions);
  test.serial.after.always(() => {
    if (base) removeTree(base);
  });
  return {
    stack,
    fuse: () => fuse!,
    base: () => base!,
  };
}

export interface FdCall {
  member: string;
  signature: string;
  /** The body, `{ $fd: 3 }` standing for the passed fd. */
  body: unknown[];
}

/** `user`'s call with `fd` as the client's fd 3; resolves with the client's JSON line. */
export async function callWithFd(user: TestUser, address: string, call: FdCall, fd: number, timeoutMs = 60000): Promise<CallResult> {
  return callWithFds(user, address, call, [fd], timeoutMs);
}

/** `user`'s call with `fds` as the client's fds 3, 4, ...; resolves with the client's JSON line. */
export async function callWithFds(user: TestUser, address: string, call: FdCall, fds: number[], timeoutMs = 60000): Promise<CallResult> {
  const argv = [process.execPath, CALL_CLIENT, '--address', address, '--member', call.member, '--signature', call.signature, '--body', JSON.stringify(call.body), '--timeout-ms', String(timeoutMs)];
  const result = await runAsUser(user, argv, { fds, timeoutMs: timeoutMs + 10000 });
  return parseLine(result.stdout, result.stderr);
}

/** bob's org.freedesktop.DBus.Peer.Ping; a client timeout is a failed result, not an exception. */
export async function pingAsBob(address: string, timeoutMs = 10000): Promise<CallResult> {
  const argv = [process.execPath, CALL_CLIENT, '--address', address, '--interface', 'org.freedesktop.DBus.Peer', '--member', 'Ping', '--signature', '', '--body', '[]', '--timeout-ms', String(timeoutMs)];
  const result = await runAsUser(bob, argv, { timeoutMs: timeoutMs + 10000 });
  return parseLine(result.stdout, result.stderr);
}

function parseLine(stdout: string, stderr: string): CallResult {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as CallResult;
  } catch {
    return { ok: false, name: 'client', message: `no JSON line: ${stdout} ${stderr}` };
  }
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
