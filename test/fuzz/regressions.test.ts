// Replays every saved fuzz seed (test/fuzz/seeds/*.json): the same user
// makes the same calls again, and every reply must be proper and the daemon
// must end as it began, exactly as in fuzz.test.ts.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { Prng } from './prng';
import { loadContract } from './contract';
import { generateCall, type FuzzCall } from './generate';
import { FUZZ_USERS, runFuzzClient, SEEDS_DIR, startFuzzStack, type FuzzStack } from './run';
import { differencesAfter, takeBaseline } from './leaks';
import type { SeedFile } from './types';

const seedFiles = fs.existsSync(SEEDS_DIR) ? fs.readdirSync(SEEDS_DIR).filter((n) => n.endsWith('.json')).sort() : [];

let f: FuzzStack;
test.before(async () => {
  if (rootSkipReason) return;
  f = await startFuzzStack();
});
test.after.always(() => f?.stop());

test('there are seeds to replay', (t) => {
  t.true(seedFiles.length > 0, `no seed files in ${SEEDS_DIR}`);
});

for (const name of seedFiles) {
  const seed = JSON.parse(fs.readFileSync(path.join(SEEDS_DIR, name), 'utf8')) as SeedFile & { call?: FuzzCall };

  // A seed is only worth keeping while it still names the same calls.
  test(`${name}: the seed still generates the recorded call`, (t) => {
    t.truthy(seed.call, 'the seed file records no call');
    const rng = new Prng(seed.seed);
    const contract = loadContract();
    let call: FuzzCall | undefined;
    for (let i = 0; i < seed.count; i++) call = generateCall(rng, contract, i);
    const pick = (c: Partial<FuzzCall> | undefined) => c && { iteration: c.iteration, path: c.path, interface: c.interface, member: c.member, signature: c.signature, flags: c.flags };
    t.deepEqual(pick(call), pick(seed.call));
  });

  rootSerial(`${name}: ${seed.note}`, async (t) => {
    const entry = FUZZ_USERS.find((u) => u.user.name === seed.user);
    if (!entry) return t.fail(`unknown user ${seed.user}`);
    t.timeout(180000);
    const baseline = takeBaseline(f);
    const summary = await runFuzzClient(f, { user: entry.user, denied: entry.denied, seed: seed.seed, count: seed.count, seconds: 120, concurrency: seed.concurrency });
    const failures = [
      ...(summary.iterations === seed.count ? [] : [`ran ${summary.iterations} of ${seed.count} calls before the time limit`]),
      ...(summary.connectionError ? [`lost the bus connection: ${summary.connectionError}`] : []),
      ...summary.problems.map((p) => `#${p.iteration}: ${p.problem}: ${JSON.stringify(p.call).slice(0, 400)}`),
      ...(await differencesAfter(f, baseline)),
    ];
    t.deepEqual(failures, []);
  });
}
