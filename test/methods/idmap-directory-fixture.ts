// What the IdmapDirectory test files share: one stack per file, a work tree
// with alice's, bob's and root's directories (plus the odd files and the
// namespace bob lends that refusals need), and the session steps they call.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { rootSkipReason } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import type { TestStack } from '../helpers/stack';
import { callAs, v } from '../helpers/call';
import { removeTree } from '../helpers/cleanup';
import { alice, bob } from '../helpers/users';
import { makeWorkDir, ownedDir } from '../helpers/work-dirs';
import { ref, type SessionStep, type StepResult } from '../helpers/session';
import { lendNamespace, type LentNamespace } from '../helpers/lend-namespace';

export const ERR = 'org.nsmount.NsMount1.Error.';
export const INTERACTIVE_REQUIRED = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired';
export const FOREIGN_ROOT = 2147352576;
export const NODE = process.execPath;

// Set by useIdmapStack's before hook.
export let work: string;
export let aliceDir: string;
export let bobDir: string;
/** Root-owned: a foreign tree here has no ancestor alice owns. */
export let rootDir: string;
export let fdsAtStart: number;
let socketServer: net.Server;
export let lent: LentNamespace;

/** Registers the hooks that start the file's stack and make (and remove) the work tree; returns the stack. */
export function useIdmapStack(): TestStack {
  test.after.always(async () => {
    socketServer?.close();
    await lent?.release();
    if (work) removeTree(work);
  });
  const stack = useTestStack();
  test.before(async () => {
    if (rootSkipReason) return;
    work = makeWorkDir('idmap');
    aliceDir = ownedDir(work, 'alice', alice);
    bobDir = ownedDir(work, 'bob', bob);
    rootDir = ownedDir(work, 'root', 0);
    ownedDir(rootDir, 'orphan', FOREIGN_ROOT);
    ownedDir(aliceDir, 'not-empty', alice);
    fs.writeFileSync(path.join(aliceDir, 'not-empty/file'), '');
    ownedDir(aliceDir, 'target', alice);
    ownedDir(bobDir, 'target', bob);
    ownedDir(aliceDir, 'mounted', alice);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `uid=${alice.uid},gid=${alice.gid},mode=755`, 'tmpfs', path.join(aliceDir, 'mounted')]);
    fs.writeFileSync(path.join(aliceDir, 'file'), '');
    execFileSync('mkfifo', [path.join(aliceDir, 'pipe')]);
    socketServer = net.createServer();
    await new Promise<void>((resolve) => socketServer.listen(path.join(aliceDir, 'socket'), resolve));
    lent = await lendNamespace(bob, stack.address, 'lent-to-alice');
    // Warm up what the daemon opens lazily (polkit connection, NSS) before counting.
    await callAs(alice, stack.address, 'ListMounts', 'a{sv}', [{}]);
    fdsAtStart = stack.daemon.fdCount();
  });
  return stack;
}

export function ok(t: ExecutionContext, r: StepResult | undefined): Extract<StepResult, { ok: true }> {
  if (!r?.ok) t.fail(r ? `${r.name}: ${r.error}: ${r.message}` : 'step missing');
  return r as Extract<StepResult, { ok: true }>;
}

export const allocate = (name: string): SessionStep => ({ name: 'ns', member: 'AllocateUserNamespace', signature: 'sua{sv}', body: [name, 0, {}] });
export const idmap = (directory: unknown, options: Record<string, unknown>, extra: Partial<SessionStep> = {}): SessionStep => ({
  name: 'mnt',
  member: 'IdmapDirectory',
  signature: 'ha{sv}',
  body: [directory, options],
  ...extra,
});
export const pathFd = (p: string, mode = 'path-dir') => ({ $fd: p, mode });

export const withNs = (options: Record<string, unknown> = {}) => () => ({ UserNamespace: v('h', ref('ns')), ...options });
