// The limits of src/native/off-thread.ts, with work whose end each test
// decides: a job stuck past the time limit fails the call with Unavailable
// yet keeps its thread (and its uid's share) until it really ends; a uid
// whose share is all stuck is refused at once; other uids go on.
import test from 'ava';
import { OffThread, type OffThreadJob } from '../../src/native/off-thread';
import { QuotaExceeded, Unavailable } from '../../src/errors';

interface Gate<T> {
  job: OffThreadJob<T>;
  finish: (value: T) => void;
  started: () => boolean;
  signal: () => AbortSignal | undefined;
  abandoned: T[];
}

function gate<T>(uid: number, overrides: Partial<OffThreadJob<T>> = {}): Gate<T> {
  let finish!: (value: T) => void;
  let signal: AbortSignal | undefined;
  const ended = new Promise<T>((resolve) => (finish = resolve));
  const abandoned: T[] = [];
  return {
    job: {
      uid,
      what: 'The test file system',
      work: (s) => {
        signal = s;
        return ended;
      },
      abandoned: (result) => abandoned.push(result),
      ...overrides,
    },
    finish,
    started: () => signal !== undefined,
    signal: () => signal,
    abandoned,
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('work that ends in time gives its result and frees its thread', async (t) => {
  const pool = new OffThread({ perUid: 2, timeoutMs: 10000 });
  const g = gate<string>(1000);
  const result = pool.run(g.job);
  await tick();
  t.is(pool.heldBy(1000), 1);
  g.finish('done');
  t.is(await result, 'done');
  t.is(pool.heldBy(1000), 0);
  t.deepEqual(g.abandoned, []);
});

test('past the time limit the call fails with Unavailable; the thread stays held until the work ends, which is then taken back', async (t) => {
  const pool = new OffThread({ perUid: 2, timeoutMs: 50 });
  const g = gate<string>(1000);
  const error = await t.throwsAsync(pool.run(g.job), { instanceOf: Unavailable });
  t.regex(error!.message, /^The test file system did not answer within 0\.1 s/);
  t.true(g.signal()?.aborted);
  t.is(pool.heldBy(1000), 1);
  g.finish('late');
  await tick();
  await tick();
  t.is(pool.heldBy(1000), 0);
  t.deepEqual(g.abandoned, ['late']);
});

test("a uid whose every thread is stuck is refused at once; another uid's work runs", async (t) => {
  const pool = new OffThread({ perUid: 2, timeoutMs: 50 });
  const stuck = [gate<number>(1000), gate<number>(1000)];
  for (const g of stuck) await t.throwsAsync(pool.run(g.job), { instanceOf: Unavailable });
  const refused = await t.throwsAsync(pool.run(gate<number>(1000).job), { instanceOf: QuotaExceeded });
  t.regex(refused!.message, /^2 of your earlier calls still wait/);
  const other = gate<number>(2000);
  const result = pool.run(other.job);
  await tick();
  other.finish(7);
  t.is(await result, 7);
  // Once the server answers, the uid may call again.
  stuck[0].finish(1);
  await tick();
  await tick();
  const again = gate<number>(1000);
  const next = pool.run(again.job);
  await tick();
  again.finish(8);
  t.is(await next, 8);
});

test('a uid at its share waits for one of its threads, without holding up other uids', async (t) => {
  const pool = new OffThread({ perUid: 1, timeoutMs: 10000 });
  const first = gate<number>(1000);
  const second = gate<number>(1000);
  const other = gate<number>(2000);
  const results = [pool.run(first.job), pool.run(second.job), pool.run(other.job)];
  await tick();
  t.true(first.started());
  t.false(second.started());
  t.true(other.started());
  first.finish(1);
  await tick();
  await tick();
  t.true(second.started());
  second.finish(2);
  other.finish(3);
  t.deepEqual(await Promise.all(results), [1, 2, 3]);
});

test('all uids together hold at most `total` threads; a job that waited too long for one fails with Unavailable and never starts', async (t) => {
  const pool = new OffThread({ perUid: 4, total: 2, timeoutMs: 100 });
  const running = [gate<number>(1000), gate<number>(2000)];
  const waiting = gate<number>(3000);
  const results = running.map((g) => pool.run(g.job).catch(() => 'gave up'));
  const late = pool.run(waiting.job);
  await tick();
  t.is(pool.heldInTotal, 2);
  t.false(waiting.started());
  await t.throwsAsync(late, { instanceOf: Unavailable });
  running.forEach((g, i) => g.finish(i));
  await Promise.all(results);
  await tick();
  t.false(waiting.started());
  t.is(pool.heldInTotal, 0);
});

test('a patient job has no time limit and is never refused', async (t) => {
  const pool = new OffThread({ perUid: 1, timeoutMs: 20 });
  const stuck = gate<number>(1000);
  await t.throwsAsync(pool.run(stuck.job), { instanceOf: Unavailable });
  const patient = gate<number>(1000, { patient: true });
  const result = pool.run(patient.job);
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.false(patient.started(), 'it waits for the stuck thread');
  stuck.finish(0);
  await tick();
  await tick();
  t.true(patient.started());
  patient.finish(5);
  t.is(await result, 5);
});
