// A box chart of the latency distributions, one row per method and caller
// kind: box p25-p75, whiskers p5-p95, a tick at p50 and a dot at p99, on a
// log scale (floors are ~0.1 ms, polkit-bound calls several ms).
import type { LatencyStats } from '../stats';
import type { ReportData } from './types';

const KINDS = [
  { key: 'floor', label: 'floor', color: '#8c8c8c' },
  { key: 'root', label: 'root', color: '#1f77b4' },
  { key: 'polkit', label: 'CheckAuthorization', color: '#e6a100' },
  { key: 'unprivileged', label: 'unprivileged', color: '#d62728' },
] as const;

const ROW = 18;
const LEFT = 290;
const WIDTH = 900;
const TOP = 40;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderSvg(report: ReportData): string {
  const rows: Array<{ label: string; color: string; stats: LatencyStats; first: boolean }> = [];
  for (const m of report.methods) {
    const stats = { floor: m.floor.stats, root: m.root, polkit: m.polkit.stats, unprivileged: m.unprivileged };
    KINDS.forEach((k, i) => rows.push({ label: `${i === 0 ? m.method : ''}  ${k.label}`, color: k.color, stats: stats[k.key], first: i === 0 }));
  }
  const all = rows.flatMap((r) => [r.stats.p5, r.stats.p99]).filter((x) => x > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const plotWidth = WIDTH - LEFT - 20;
  const x = (v: number) => LEFT + (Math.log10(Math.max(v, lo) / lo) / Math.log10(hi / lo)) * plotWidth;
  const height = TOP + rows.length * ROW + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="13" font-weight="bold">nsmountd latency per call (ms, log scale): box p25-p75, whiskers p5-p95, bar p50, dot p99</text>`,
  ];
  for (let decade = lo; decade <= hi * 1.0001; decade *= 10) {
    for (const f of [1, 2, 5]) {
      const v = decade * f;
      if (v > hi * 1.0001) break;
      const gx = x(v).toFixed(1);
      out.push(`<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${TOP + rows.length * ROW}" stroke="${f === 1 ? '#bbb' : '#eee'}"/>`);
      out.push(`<text x="${gx}" y="${TOP + rows.length * ROW + 14}" text-anchor="middle" fill="#555">${+v.toPrecision(3)}</text>`);
    }
  }
  rows.forEach((r, i) => {
    const y = TOP + i * ROW;
    const mid = y + ROW / 2;
    if (r.first && i > 0) out.push(`<line x1="10" y1="${y}" x2="${WIDTH - 10}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${LEFT - 8}" y="${mid + 4}" text-anchor="end">${esc(r.label)}</text>`);
    const s = r.stats;
    out.push(`<line x1="${x(s.p5).toFixed(1)}" y1="${mid}" x2="${x(s.p95).toFixed(1)}" y2="${mid}" stroke="${r.color}"/>`);
    out.push(`<rect x="${x(s.p25).toFixed(1)}" y="${y + 4}" width="${Math.max(1, x(s.p75) - x(s.p25)).toFixed(1)}" height="${ROW - 8}" fill="${r.color}" fill-opacity="0.35" stroke="${r.color}"/>`);
    out.push(`<line x1="${x(s.p50).toFixed(1)}" y1="${y + 2}" x2="${x(s.p50).toFixed(1)}" y2="${y + ROW - 2}" stroke="${r.color}" stroke-width="2.5"/>`);
    out.push(`<circle cx="${x(s.p99).toFixed(1)}" cy="${mid}" r="2.5" fill="${r.color}"/>`);
  });
  out.push(`<text x="${LEFT}" y="${height - 8}" fill="#555">${esc(`${report.date}, ${report.host.cpus} CPUs, load average ${report.host.loadAverageStart.map((l) => l.toFixed(2)).join('/')}`)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
