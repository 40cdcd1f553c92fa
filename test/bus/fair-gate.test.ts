import test from 'ava';
import { FairGate } from '../../src/bus/fair-gate';

/** A job that finishes when the test says so, and records when it started. */
function heldJob(started: string[], name: string): { job: () => Promise<string>; finish: () => void } {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    job: async () => {
      started.push(name);
      await done;
      return name;
    },
    finish: () => finish(),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('no more than the limit run at once; the rest start as slots free', async (t) => {
  const gate = new FairGate(2);
  const started: string[] = [];
  const jobs = ['a1', 'a2', 'a3', 'a4'].map((n) => heldJob(started, n));
  const results = jobs.map((j) => gate.run('a', j.job));
  await tick();
  t.deepEqual(started, ['a1', 'a2']);
  t.is(gate.inFlight, 2);
  t.is(gate.queued, 2);
  jobs[0].finish();
  await tick();
  t.deepEqual(started, ['a1', 'a2', 'a3']);
  for (const j of jobs) j.finish();
  t.deepEqual(await Promise.all(results), ['a1', 'a2', 'a3', 'a4']);
  t.is(gate.inFlight, 0);
  t.is(gate.queued, 0);
});

test("waiting jobs take turns per key: one key's burst does not hold another key's job behind all of it", async (t) => {
  const gate = new FairGate(1);
  const started: string[] = [];
  const blocker = heldJob(started, 'first');
  const running = gate.run('alice', blocker.job);
  const later = [...['alice1', 'alice2', 'alice3'].map((n) => ['alice', n]), ['bob', 'bob1'], ['carol', 'carol1'], ['bob', 'bob2']].map(([key, n]) => {
    const j = heldJob(started, n);
    j.finish();
    return gate.run(key, j.job);
  });
  blocker.finish();
  await Promise.all([running, ...later]);
  t.deepEqual(started, ['first', 'alice1', 'bob1', 'carol1', 'alice2', 'bob2', 'alice3']);
});

test('a job that throws frees its slot, and the error reaches its caller', async (t) => {
  const gate = new FairGate(1);
  await t.throwsAsync(gate.run('a', async () => { throw new Error('boom'); }), { message: 'boom' });
  t.is(await gate.run('a', async () => 'next'), 'next');
  t.is(gate.inFlight, 0);
});

const rejectsLimit = test.macro({
  exec(t, limit: number) {
    t.throws(() => new FairGate(limit), { instanceOf: RangeError });
  },
  title: (_, limit: number) => `a limit of ${limit} is refused`,
});
for (const limit of [0, -1, 1.5, Number.NaN]) test(rejectsLimit, limit);
