// What one report run measured; written into bench/results/latest.json and
// rendered as Markdown and SVG.
import type { LatencyStats } from '../stats';
import type { LoadMethod } from '../../test/helpers/load-clients';

export interface Throughput {
  clients: number;
  calls: number;
  callsPerSecond: number;
  p50: number;
  p99: number;
}

export interface MethodReport {
  method: LoadMethod;
  /** What the daemon cannot avoid doing, measured in-process (or the bare bus round trip for pure bookkeeping). */
  floor: { label: string; stats: LatencyStats };
  /** A bare CheckAuthorization of the method's action by an unprivileged connection. */
  polkit: { action: string; stats: LatencyStats };
  root: LatencyStats;
  unprivileged: LatencyStats;
  throughput: Throughput[];
}

export interface ReportTarget {
  name: string;
  value: number;
  limit: number;
  unit: 'x' | 'ms' | 'calls/s' | 'MiB';
  /** Throughput must reach its limit; everything else must stay below. */
  atLeast?: boolean;
  met: boolean;
}

export interface ReportData {
  date: string;
  host: { cpus: number; kernel: string; node: string; loadAverageStart: number[]; loadAverageEnd: number[] };
  iterations: number;
  /** Peer.Ping to nsmountd as root: the D-Bus round trip under every method. */
  ping: LatencyStats;
  methods: MethodReport[];
  rss: { idleKiB: number; loadedPeakKiB: number; idleAfterKiB: number };
  targets: ReportTarget[];
}
