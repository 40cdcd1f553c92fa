// Shared shape of every benchmark: each measures its own floors in the same
// run, returns rows of latency stats and the targets it is judged by.
import type { LatencyStats } from './stats';

export interface BenchContext {
  address: string;
  iterations: number;
  /** Test users installed by scripts/bench.js in its private mount namespace. */
  users: Record<'alice' | 'bob', { uid: number; gid: number }>;
  /** A scratch directory on tmpfs, for images and trees. */
  scratchDir: string;
}

export interface BenchTarget {
  name: string;
  value: number;
  limit: number;
  unit: 'x' | 'ms';
}

export interface BenchResult {
  method: string;
  rows: Array<{ label: string; stats: LatencyStats }>;
  targets: BenchTarget[];
}

export function formatResult(result: BenchResult): string {
  const lines = [`\n## ${result.method}\n`, '| measurement | n | p50 ms | p99 ms | mean ms |', '|---|---:|---:|---:|---:|'];
  for (const row of result.rows) {
    lines.push(`| ${row.label} | ${row.stats.n} | ${row.stats.p50.toFixed(3)} | ${row.stats.p99.toFixed(3)} | ${row.stats.mean.toFixed(3)} |`);
  }
  lines.push('');
  for (const t of result.targets) {
    const shown = t.unit === 'x' ? `${t.value.toFixed(2)}x` : `${t.value.toFixed(3)} ms`;
    const limit = t.unit === 'x' ? `${t.limit}x` : `${t.limit} ms`;
    lines.push(`- ${t.name}: ${shown} (target <= ${limit}) ${t.value <= t.limit ? 'MET' : 'MISSED'}`);
  }
  return lines.join('\n');
}
