// Peer.Ping to nsmountd and to a bare dbus-next server, for the daemon CPU
// per call that everything else is compared with. Both servers get the
// same treatment: a long warm-up on the connection that is then timed (a
// freshly started Node process spends its first thousand calls compiling:
// measured after 20 calls, the bare server read 0.47 ms against nsmountd's
// 0.25 ms, which had been warmed by the benchmarks before it), and rounds
// that alternate between the two, so a burst of load on the machine hits
// both alike. Each figure is the lowest of its rounds: load only ever adds.
import { runMultiCall, startBareServer } from '../run-client';
import { summarize, type LatencyStats } from '../stats';

export interface PingFigures {
  stats: LatencyStats;
  cpuMsPerCall: number;
  /** The CPU per call of every round, in order. */
  rounds: number[];
}

export interface PingInputs {
  address: string;
  daemonPid: number;
  /** Timed calls per round. */
  calls: number;
  /** Untimed calls before each round, on the same connection. */
  warmup: number;
  rounds: number;
  /** Bus name the bare server may own on this bus. */
  bareName: string;
}

export async function measurePings(inputs: PingInputs): Promise<Record<'nsmountd' | 'bareDbusNext', PingFigures>> {
  const bare = await startBareServer(inputs.address, inputs.bareName);
  const runs: Record<'nsmountd' | 'bareDbusNext', Array<{ cpu: number; samples: number[] }>> = { nsmountd: [], bareDbusNext: [] };
  try {
    for (let round = 0; round < inputs.rounds; round++) {
      for (const [which, pid, destination] of [
        ['bareDbusNext', bare.pid, inputs.bareName],
        ['nsmountd', inputs.daemonPid, undefined],
      ] as const) {
        const run = await runMultiCall({ address: inputs.address, method: 'Ping', connections: 1, calls: inputs.calls, warmup: inputs.warmup, daemonPid: pid, destination });
        runs[which].push({ cpu: run.daemonCpuMsPerCall, samples: run.samples.Ping ?? [] });
      }
    }
  } finally {
    await bare.stop();
  }
  const figures = (list: Array<{ cpu: number; samples: number[] }>): PingFigures => {
    const best = list.reduce((a, b) => (b.cpu < a.cpu ? b : a));
    return { stats: summarize(best.samples), cpuMsPerCall: Math.round(best.cpu * 1e4) / 1e4, rounds: list.map((r) => Math.round(r.cpu * 1e4) / 1e4) };
  };
  return { nsmountd: figures(runs.nsmountd), bareDbusNext: figures(runs.bareDbusNext) };
}
