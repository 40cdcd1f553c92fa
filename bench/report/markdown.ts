// bench/results/report.md: the tables of docs/PERFORMANCE.md, from one run.
import type { ReportData, ReportTarget } from './types';
import { renderScale } from './scale';
import { FRESH_IDLE, formatIdleSamples, IDLE_AFTER_LOAD } from './idle-rss';

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
    'Clients: one light Node process (bench/clients/multi-call.ts) driving 1, 4 or 16 bus connections, one call in flight on each; ' +
      'the same client, as test user alice, times the unprivileged calls and the bare CheckAuthorization. ' +
      '"Daemon CPU" is the daemon\'s time on CPU over the timed calls, divided by their number: the sum over its threads of the first field of ' +
      '/proc/PID/task/TID/schedstat (ns), or, for a run in which one of its threads exited (the bench then prints a line saying so), utime+stime ' +
      'of /proc/PID/stat in 10 ms ticks.',
    '',
    '## Peer.Ping: nsmountd against a bare dbus-next server, same run',
    '',
    'Each server is warmed up on the timed connection (as many calls as are timed, at most 1000), the two alternate over two rounds, and each row shows its lowest round ' +
      `(nsmountd: ${(report.pings.nsmountd.rounds ?? []).join(', ')}; bare: ${(report.pings.bareDbusNext.rounds ?? []).join(', ')} ms/call). ` +
      `Each method's root run (latency and daemon CPU) times ${report.methods[0]?.root.n ?? 0} calls after a warm-up of at most 1000 on its connection; ` +
      `the unprivileged run and the bare CheckAuthorization time ${report.iterations} calls after at most 200.`,
    '',
    '| server | p50 ms | p99 ms | server CPU ms/call |',
    '|---|---:|---:|---:|',
    `| nsmountd | ${ms(report.pings.nsmountd.stats.p50)} | ${ms(report.pings.nsmountd.stats.p99)} | ${report.pings.nsmountd.cpuMsPerCall.toFixed(3)} |`,
    `| bare dbus-next (usocket, addMethodHandler, nothing else) | ${ms(report.pings.bareDbusNext.stats.p50)} | ${ms(report.pings.bareDbusNext.stats.p99)} | ${report.pings.bareDbusNext.cpuMsPerCall.toFixed(3)} |`,
    '',
    '## Latency and daemon CPU, one client (ms)',
    '',
    '| method | floor p50 | root p50 | root p99 | root daemon CPU/call | CPU budget (Ping CPU + 0.1 + kernel floor) | unprivileged p50 | unprivileged p99 | CheckAuthorization p50 | unprivileged - CheckAuthorization |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const m of report.methods) {
    const budget = report.pings.nsmountd.cpuMsPerCall + 0.1 + (m.floor.kernel ? m.floor.stats.p50 : 0);
    lines.push(
      `| ${m.method} | ${ms(m.floor.stats.p50)} | ${ms(m.root.p50)} | ${ms(m.root.p99)} | ${ms(m.rootCpuMsPerCall)} | ${ms(budget)} | ` +
        `${ms(m.unprivileged.p50)} | ${ms(m.unprivileged.p99)} | ${ms(m.polkit.stats.p50)} | ${ms(m.unprivileged.p50 - m.polkit.stats.p50)} |`,
    );
  }
  lines.push('', 'Floors:', '');
  for (const m of report.methods) lines.push(`- ${m.method}: ${m.floor.label}; CheckAuthorization of ${m.polkit.action}.`);
  lines.push(
    '',
    '## What an unprivileged call adds to its polkit check (ms)',
    '',
    'An unprivileged call is the root call plus polkit: the client\'s round trip to nsmountd and the method\'s work, and nsmountd\'s own ' +
      'CheckAuthorization round trip, which costs what the bare one costs. So unprivileged - CheckAuthorization cannot fall below the root ' +
      'p50; the last column is what being unprivileged adds beyond both. Daemon CPU is per call, over the timed calls of each run.',
    '',
    '| method | unprivileged - CheckAuthorization p50 | root p50 | unprivileged - CheckAuthorization - root p50 | root daemon CPU/call | unprivileged daemon CPU/call | difference |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const m of report.methods) {
    const beyondPolkit = m.unprivileged.p50 - m.polkit.stats.p50;
    lines.push(
      `| ${m.method} | ${ms(beyondPolkit)} | ${ms(m.root.p50)} | ${ms(beyondPolkit - m.root.p50)} | ` +
        `${ms(m.rootCpuMsPerCall)} | ${ms(m.unprivilegedCpuMsPerCall)} | ${ms(m.unprivilegedCpuMsPerCall - m.rootCpuMsPerCall)} |`,
    );
  }
  lines.push(
    '',
    '## Throughput as root (calls/s over all connections; daemon CPU in % of one core)',
    '',
    '| method | 1 connection | 4 connections | 16 connections | daemon CPU at 16 | daemon CPU/call at 16 | p50 / p99 ms at 16 |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const m of report.methods) {
    const at = (c: number) => m.throughput.find((t) => t.clients === c);
    const cell = (c: number) => `${at(c)?.callsPerSecond} (${at(c)?.daemonCpuPercent}%)`;
    lines.push(
      `| ${m.method} | ${cell(1)} | ${cell(4)} | ${at(16)?.callsPerSecond} | ${at(16)?.daemonCpuPercent}% | ${ms(at(16)?.daemonCpuMsPerCall ?? 0)} | ${ms(at(16)?.p50 ?? 0)} / ${ms(at(16)?.p99 ?? 0)} |`,
    );
  }
  if (report.scale) lines.push('', ...renderScale(report.scale));
  lines.push(
    '',
    '## Memory (VmRSS of the daemon)',
    '',
    `- idle, fresh (highest sample ${FRESH_IDLE.settleMs / 1000}-${FRESH_IDLE.untilMs / 1000} s after start-up): ${mib(report.rss.idleKiB)}`,
    `- peak under 16 concurrent connections: ${mib(report.rss.loadedPeakKiB)}`,
    `- idle again (highest sample ${IDLE_AFTER_LOAD.settleMs / 1000}-${IDLE_AFTER_LOAD.untilMs / 1000} s after all the load, once the daemon's idle collection ran): ${mib(report.rss.idleAfterKiB)}`,
    ...(report.rss.idleAfterSamples ? [`- samples after the load: ${formatIdleSamples({ kiB: report.rss.idleAfterKiB, settleMs: IDLE_AFTER_LOAD.settleMs, samples: report.rss.idleAfterSamples })} MiB`] : []),
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
