// What one report run measured; written into bench/results/latest.json and
// rendered as Markdown and SVG.
import type { LatencyStats } from '../stats';
import type { Floor } from './floors';
import type { ScaleReport } from './scale';
import type { LoadMethod } from '../../test/helpers/load-clients';

export interface Throughput {
  clients: number;
  calls: number;
  callsPerSecond: number;
  p50: number;
  p99: number;
  /** The daemon's CPU time during the run, in percent of one core: 100 is the honest ceiling of a single-threaded daemon. */
  daemonCpuPercent: number;
  daemonCpuMsPerCall: number;
}

export interface MethodReport {
  method: LoadMethod;
  /** What the daemon cannot avoid doing, measured in-process (or the bare bus round trip for pure bookkeeping). */
  floor: Floor;
  /** A bare CheckAuthorization of the method's action by an unprivileged connection, for itself. */
  polkit: { action: string; stats: LatencyStats };
  root: LatencyStats;
  /** The daemon's CPU time (bench/daemon-cpu.ts) over the root latency run, per call. */
  rootCpuMsPerCall: number;
  /** As test user alice, with the same client, connection count and warm-up as root. */
  unprivileged: LatencyStats;
  /** The daemon's CPU time over the unprivileged run, per call: root's plus the polkit round trip's. */
  unprivilegedCpuMsPerCall: number;
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
  /** Peer.Ping to nsmountd and to a bare dbus-next server in the same run, with each server's CPU per call. */
  pings: Record<'nsmountd' | 'bareDbusNext', { stats: LatencyStats; cpuMsPerCall: number; rounds?: number[] }>;
  /** Set by the scale benchmark when it ran. */
  scale?: ScaleReport;
  methods: MethodReport[];
  /** VmRSS in KiB; idle figures are the highest sample once settled (bench/report/idle-rss.ts), with every sample kept. */
  rss: {
    idleKiB: number;
    loadedPeakKiB: number;
    idleAfterKiB: number;
    idleSamples?: { atMs: number; kiB: number }[];
    idleAfterSamples?: { atMs: number; kiB: number }[];
  };
  targets: ReportTarget[];
}
