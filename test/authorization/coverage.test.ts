// Keeps the contract, the polkit policy and the authorization matrix in
// step: a method added to the XML must name a polkit action that exists
// and must get rows in table.ts, or this file fails. Needs no stack.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import type { CallContext } from '../../src/bus/method';
import { buildMethods, type MethodDependencies } from '../../src/daemon/methods';
import { contractPath, readContract } from '../../src/bus/introspection';
import { O_DIRECTORY, O_PATH } from '../../src/native/dirfd';
import { POLKIT_ACTIONS } from '../helpers/paths';
import { CALLERS } from './callers';
import { ROWS } from './table';

const contractMethods = readContract(fs.readFileSync(contractPath(), 'utf8')).methods.map((m) => m.name);
const policyActions = new Set([...fs.readFileSync(POLKIT_ACTIONS, 'utf8').matchAll(/<action\s+id="([^"]+)"/g)].map((m) => m[1]));
// Building the definitions touches none of the dependencies.
const methods = buildMethods({} as MethodDependencies);

const ctx = (uid: number): CallContext => ({ caller: { sender: ':1.1', uid, gid: uid }, interactive: false });
const ALICE = 61001;
const BOB = 61002;

/**
 * Every decision each method's chooseAction can take, as the params parse
 * returns and what its checkFds step would have found. A method missing
 * here fails the test: whoever adds one must say which polkit action
 * guards it.
 */
function probes(dirFd: number): Record<string, Array<{ params: unknown; checked?: unknown; ctx: CallContext }>> {
  const trust = (trusted: boolean) => ({ trusted, reason: 'probe' });
  const idmap = (trusted: boolean) => ({
    params: { directoryFd: dirFd, mode: 'owner', readOnly: false, recursive: false },
    checked: { resolvedMode: 'owner', trust: trust(trusted), directoryPath: '/probe' },
  });
  const record = (kind: string) => ({ target: '/probe', ownerUid: ALICE, source: '/probe', kind, mountId: 1 });
  const unmount = (kind: string) => ({ params: { mountPointFd: dirFd }, checked: { record: record(kind), mountId: 1n } });
  const mount = (trusted: boolean, mountOptions?: string) => ({
    params: { imageFd: dirFd, mountOptions },
    checked: {
      trust: { ...trust(trusted), path: '/probe.img' },
      imagePath: { verified: true, path: '/probe.img' },
      readOnly: true,
      contents: trusted ? { dissected: { partitions: [] }, selected: [] } : undefined,
    },
  });
  return {
    AllocateUserNamespace: [{ params: { name: 'probe', size: 65536 }, ctx: ctx(ALICE) }],
    ListUserNamespaces: [{ params: {}, ctx: ctx(ALICE) }],
    MakeDirectory: [{ params: { parentFd: dirFd, name: 'probe', mode: 0o755 }, ctx: ctx(ALICE) }],
    IdmapDirectory: [true, false].map((trusted) => ({ ...idmap(trusted), ctx: ctx(ALICE) })),
    Unmount: ['directory', 'image:root'].flatMap((kind) => [ALICE, BOB].map((uid) => ({ ...unmount(kind), ctx: ctx(uid) }))),
    ListMounts: [{ params: {}, ctx: ctx(ALICE) }],
    Mount: [mount(true), mount(false), mount(true, 'noatime')].map((probe) => ({ ...probe, ctx: ctx(ALICE) })),
  };
}

test('the policy file declares actions at all (so the checks below can fail)', (t) => {
  t.true(policyActions.size >= 5, [...policyActions].join(', '));
  t.true(contractMethods.length >= 5, contractMethods.join(', '));
});

test('every method of the contract has rows in the authorization matrix, and every row a method of the contract', (t) => {
  const rowMethods = new Set(ROWS.map((r) => r.method));
  t.deepEqual(contractMethods.filter((m) => !rowMethods.has(m)), [], 'methods without a matrix row');
  t.deepEqual([...rowMethods].filter((m) => !contractMethods.includes(m)), [], 'rows for methods the contract lacks');
});

test('every matrix row has an outcome for every kind of caller, naming only actions of the policy', (t) => {
  for (const row of ROWS) {
    for (const caller of CALLERS) {
      const outcome = row.expect[caller.kind];
      t.truthy(outcome, `${row.id} × ${caller.kind}`);
      if (outcome && 'action' in outcome && outcome.action) t.true(policyActions.has(outcome.action), `${row.id}: ${outcome.action} is not in the policy`);
    }
  }
  t.is(new Set(ROWS.map((r) => r.id)).size, ROWS.length, 'row ids are unique');
});

test("every method's chooseAction names an action the polkit policy declares", (t) => {
  const dirFd = fs.openSync(os.tmpdir(), O_PATH | O_DIRECTORY);
  try {
    const table = probes(dirFd);
    const named = new Set<string>();
    for (const name of contractMethods) {
      const method = methods.find((m) => m.name === name);
      t.truthy(method, `${name} has no handler`);
      const cases = table[name];
      t.truthy(cases?.length, `${name} has no chooseAction probe here: say which polkit action guards it`);
      for (const c of cases ?? []) {
        const { action } = method!.chooseAction(c.params, c.ctx, c.checked);
        named.add(action);
        t.true(policyActions.has(action), `${name} asks polkit about ${action}, which polkit/org.nsmount.policy does not declare`);
      }
    }
    // An action nobody asks about is a policy an administrator would tune in vain.
    t.deepEqual([...policyActions].filter((a) => !named.has(a)), [], 'policy actions no method uses');
  } finally {
    fs.closeSync(dirFd);
  }
});
