// Random calls from four unprivileged users at once, each answered
// differently by polkit, for a bounded time (NSMOUNTD_FUZZ_SECONDS, default
// 60; NSMOUNTD_FUZZ_SEED picks the run's seed, random otherwise). Afterwards
// the daemon must be the same process still owning its name, every reply
// must have been a proper error or a correct success, and the daemon's fds,
// the mounts, the loop devices and the registry must be as they were. A
// failing client's seed is written to test/fuzz/seeds/ so it can be kept as
// a regression (regressions.test.ts replays every file there). With
// NSMOUNTD_FUZZ_LOG_DIR set, every call and reply is logged there too.
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { rootTest, rootSkipReason } from '../helpers/root';
import { childSeed } from './prng';
import { FUZZ_USERS, runFuzzClient, SEEDS_DIR, startFuzzStack, type FuzzStack } from './run';
import { differencesAfter, registryProblems, takeBaseline } from './leaks';
import type { FuzzSummary, SeedFile } from './types';

const SECONDS = Number(process.env.NSMOUNTD_FUZZ_SECONDS ?? 60);
const SEED = process.env.NSMOUNTD_FUZZ_SEED ? Number(process.env.NSMOUNTD_FUZZ_SEED) >>> 0 : crypto.randomBytes(4).readUInt32LE(0);
const CONCURRENCY = 2;
/** Every call and its outcome, one JSON line each, per user; kept only where asked (the run's tmp dir goes away). */
const LOG_DIR = process.env.NSMOUNTD_FUZZ_LOG_DIR;

let f: FuzzStack;
test.before(async () => {
  if (rootSkipReason) return;
  f = await startFuzzStack();
});
test.after.always(() => f?.stop());

function saveSeed(user: string, summary: FuzzSummary): string {
  const first = summary.problems[0];
  const seed: SeedFile = {
    note: `found by fuzz.test.ts: ${first.problem}`,
    user,
    seed: summary.seed,
    count: first.iteration + 1,
    concurrency: CONCURRENCY,
    problem: first.problem,
  };
  fs.mkdirSync(SEEDS_DIR, { recursive: true });
  const file = path.join(SEEDS_DIR, `found-${summary.seed}-${user.replace(/^nsmtest-/, '')}.json`);
  fs.writeFileSync(file, JSON.stringify({ ...seed, call: first.call, outcome: first.outcome }, null, 2) + '\n');
  return file;
}

rootTest(`${SECONDS} s of random calls from four users leave the daemon up, every reply proper and the host as it was`, async (t) => {
  t.timeout((SECONDS + 150) * 1000);
  t.log(`seed ${SEED} (NSMOUNTD_FUZZ_SEED=${SEED} repeats this run), ${SECONDS} s`);
  const baseline = takeBaseline(f);
  // Checked all along, not only at the end: a double allocation may not outlive the run.
  const midRun = new Set<string>();
  const watcher = setInterval(() => registryProblems(f, { settled: false }).forEach((p) => midRun.add(p)), 500);
  let summaries: FuzzSummary[];
  try {
    summaries = await Promise.all(
      FUZZ_USERS.map(({ user, denied }, i) =>
        runFuzzClient(f, {
          user,
          denied,
          seed: childSeed(SEED, i),
          seconds: SECONDS,
          concurrency: CONCURRENCY,
          log: LOG_DIR ? path.join(LOG_DIR, `${user.name}.jsonl`) : undefined,
        }),
      ),
    );
  } finally {
    clearInterval(watcher);
  }

  // Everything is logged before anything is asserted: a failed assertion ends the test.
  const outcomes: Record<string, number> = {};
  const failures: string[] = [];
  summaries.forEach((s, i) => {
    const user = FUZZ_USERS[i].user.name;
    for (const [k, n] of Object.entries(s.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + n;
    t.log(`${user}: seed ${s.seed}, ${s.iterations} calls in ${s.seconds.toFixed(1)} s, ${s.problems.length} problems`);
    if (s.problems.length) {
      const file = saveSeed(user, s);
      for (const p of s.problems.slice(0, 5)) t.log(`${user} #${p.iteration}: ${p.problem}\n  ${JSON.stringify(p.call).slice(0, 600)}`);
      failures.push(`${s.problems.length} bad replies for ${user}; seed saved to ${file}`);
    }
    if (s.connectionError) failures.push(`${user} lost its bus connection: ${s.connectionError}`);
    // A client that barely ran proves nothing.
    if (s.iterations < Math.min(200, SECONDS * 5)) failures.push(`${user} made only ${s.iterations} calls`);
  });
  t.log(`outcomes: ${JSON.stringify(outcomes)}`);
  // The run must have got past parsing and polkit into the code that acts.
  for (const deep of ['ok:AllocateUserNamespace', 'ok:MakeDirectory', 'ok:IdmapDirectory', 'ok:Mount', 'ok:Unmount']) {
    if (!outcomes[deep]) failures.push(`no call reached ${deep}`);
  }
  failures.push(...[...midRun].map((p) => `during the run: ${p}`));
  failures.push(...(await differencesAfter(f, baseline)));
  t.deepEqual(failures, []);
});
