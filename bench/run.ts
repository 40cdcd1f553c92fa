// `npm run bench`: brings up the private stack (scripts/bench.js has put us
// in a private mount namespace with test users and a tmpfs TMPDIR) and
// runs every benchmark, printing tables and ratios and writing JSON.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startTestStack } from '../test/helpers/stack';
import { alice, bob } from '../test/helpers/users';
import { benchAllocateUserNamespace } from './allocate-user-namespace';
import { benchMount } from './mount';
import { benchIdmapDirectory } from './idmap-directory';
import { formatResult, type BenchContext, type BenchResult } from './harness';

type Bench = (ctx: BenchContext) => Promise<BenchResult>;

export const BENCHMARKS: Record<string, Bench> = {
  'allocate-user-namespace': benchAllocateUserNamespace,
  mount: benchMount,
  'idmap-directory': benchIdmapDirectory,
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { iterations: { type: 'string', default: '300' }, only: { type: 'string' }, out: { type: 'string' } },
  });
  const stack = await startTestStack({ config: '[pool]\nquota_per_uid = 100000\n' });
  const scratchDir = fs.mkdtempSync(path.join(stack.baseDir, 'scratch-'));
  const ctx: BenchContext = {
    address: stack.address,
    iterations: Number(values.iterations),
    users: { alice, bob },
    scratchDir,
  };
  const results: BenchResult[] = [];
  try {
    for (const [name, bench] of Object.entries(BENCHMARKS)) {
      if (values.only && !values.only.split(',').includes(name)) continue;
      const result = await bench(ctx);
      results.push(result);
      process.stdout.write(formatResult(result) + '\n');
    }
  } finally {
    await stack.stop();
  }
  const out = values.out ?? path.resolve(__dirname, '../../bench/results/latest.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
  process.stdout.write(`\nresults written to ${out}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
