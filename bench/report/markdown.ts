// bench/results/report.md: the tables of docs/PERFORMANCE.md, from one run.
import type { ReportData, ReportTarget } from './types';

const ms = (x: number) => x.toFixed(3);
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

export function formatTarget(t: ReportTarget): string {
  const shown = t.unit === 'x' ? `${t.value.toFixed(2)}x` : `${t.value} ${t.unit}`;
  const limit = t.unit === 'x' ? `${t.limit}x` : `${t.limit} ${t.unit}`;
  return `| ${t.name} | ${shown} | ${t.atLeast ? '>=' : '<='} ${limit} | ${t.met ? 'MET' : 'MISSED'} |`;
}

export function renderMarkdown(report: ReportData, chartFile: string): string {
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const lines = [
    '# nsmountd performance report',
    '',
    `Run ${report.date} on ${report.host.cpus} CPUs, Linux ${report.host.kernel}, Node ${report.host.node}; ` +
      `${report.iterations} timed calls per latency row. Load average (1/5/15 min) at start ${load(report.host.loadAverageStart)}, at end ${load(report.host.loadAverageEnd)}.`,
    '',
    `Bus round trip (Peer.Ping to nsmountd, root): p50 ${ms(report.ping.p50)} ms, p99 ${ms(report.ping.p99)} ms.`,
    '',
    '## Latency, one client (ms)',
    '',
    '| method | floor p50 | root p50 | root p99 | root / floor | unprivileged p50 | unprivileged p99 | CheckAuthorization p50 | unprivileged - CheckAuthorization |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const m of report.methods) {
    lines.push(
      `| ${m.method} | ${ms(m.floor.stats.p50)} | ${ms(m.root.p50)} | ${ms(m.root.p99)} | ${(m.root.p50 / m.floor.stats.p50).toFixed(2)}x | ` +
        `${ms(m.unprivileged.p50)} | ${ms(m.unprivileged.p99)} | ${ms(m.polkit.stats.p50)} | ${ms(m.unprivileged.p50 - m.polkit.stats.p50)} |`,
    );
  }
  lines.push('', 'Floors:', '');
  for (const m of report.methods) lines.push(`- ${m.method}: ${m.floor.label}; CheckAuthorization of ${m.polkit.action}.`);
  lines.push('', '## Throughput as root (calls/s, all clients together)', '', '| method | 1 client | 4 clients | 16 clients | p50 / p99 ms at 16 |', '|---|---:|---:|---:|---:|');
  for (const m of report.methods) {
    const at = (c: number) => m.throughput.find((t) => t.clients === c);
    lines.push(`| ${m.method} | ${at(1)?.callsPerSecond} | ${at(4)?.callsPerSecond} | ${at(16)?.callsPerSecond} | ${ms(at(16)?.p50 ?? 0)} / ${ms(at(16)?.p99 ?? 0)} |`);
  }
  lines.push(
    '',
    '## Memory (VmRSS of the daemon)',
    '',
    `- idle, fresh: ${mib(report.rss.idleKiB)}`,
    `- peak under 16 concurrent clients: ${mib(report.rss.loadedPeakKiB)}`,
    `- idle again after all the load: ${mib(report.rss.idleAfterKiB)}`,
    '',
    '## Targets',
    '',
    '| target | measured | limit | |',
    '|---|---:|---:|---|',
    ...report.targets.map(formatTarget),
    '',
    `![latency distributions](${chartFile})`,
    '',
  );
  return lines.join('\n');
}
