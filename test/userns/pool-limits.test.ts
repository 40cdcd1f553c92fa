// A pool of three blocks and a quota of two, to reach every limit quickly.
import type { ExecutionContext } from 'ava';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { holdNamespaces, type HeldResult } from '../helpers/holder';
import { callAs, type CallResult } from '../helpers/call';
import { alice, bob, carol } from '../helpers/users';

// 0x7000_0000 is far from NSS ids and the test users' subuid ranges.
const FIRST = 0x70000000 - 3 * 65536;

const stack = useTestStack({
  config: `[pool]\nfirst = ${FIRST}\nlast = ${FIRST + 3 * 65536 - 1}\nquota_per_uid = 2\nreclaim_interval_sec = 3600\n`,
});

function okBases(t: ExecutionContext, results: HeldResult[]): number[] {
  for (const r of results) t.true(r.ok, `${r.name}: ${r.error} ${r.message}`);
  return results.map((r) => r.base!);
}

async function allocateUntilOk(user: typeof alice, name: string, deadlineMs: number): Promise<CallResult> {
  // A namespace is torn down some tens of ms after its last fd closes.
  const until = Date.now() + deadlineMs;
  for (;;) {
    const r = await callAs(user, stack.address, 'AllocateUserNamespace', 'sua{sv}', [name, 0, {}]);
    if (r.ok || Date.now() > until) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

rootTest.serial('quota, exhaustion and reclaim', async (t) => {
  const a = await holdNamespaces(alice, stack.address, ['q1', 'q2', 'q3']);
  try {
    const bases = okBases(t, a.results.slice(0, 2));
    t.is(new Set(bases).size, 2);
    t.is(a.results[2].error, 'org.nsmount.NsMount1.Error.QuotaExceeded', a.results[2].message);

    const b = await holdNamespaces(bob, stack.address, ['last', 'none']);
    let third: number | undefined;
    try {
      [third] = okBases(t, b.results.slice(0, 1));
      t.false(bases.includes(third));
      t.is(b.results[1].error, 'org.nsmount.NsMount1.Error.RangeExhausted', b.results[1].message);
      const c = await callAs(carol, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['x', 0, {}]);
      t.false(c.ok);
      if (!c.ok) t.is(c.name, 'org.nsmount.NsMount1.Error.RangeExhausted');
    } finally {
      await b.release();
    }
    // bob's namespace is gone with his process: its block comes back without anyone asking, to bob only.
    const again = await allocateUntilOk(bob, 'reused', 5000);
    t.true(again.ok, again.ok ? '' : `${again.name}: ${again.message}`);
    if (again.ok) t.is(again.body[1], third);
  } finally {
    await a.release();
  }
});

rootTest.serial('a name can be reused once its namespace is gone', async (t) => {
  const first = await holdNamespaces(alice, stack.address, ['again']);
  okBases(t, first.results);
  await first.release();
  const r = await allocateUntilOk(alice, 'again', 5000);
  t.true(r.ok, r.ok ? '' : `${r.name}: ${r.message}`);
});
