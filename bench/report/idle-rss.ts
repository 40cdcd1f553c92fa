// The daemon's idle RSS, read so that one figure stands for a settled
// state: VmRSS sampled every second from the moment the calls stop, and the
// figure is the highest sample once `settleMs` have passed. The daemon's
// idle collector (src/daemon/idle-collect.ts: a compacting full collection
// and malloc_trim, 1-2 s after the last call) has run by then, and RSS stays
// flat afterwards; the samples before it are kept so a report shows the drop.
import { rssKiB } from '../../test/helpers/process-sampler';

export interface IdleRss {
  /** The highest sample at or after settleMs: the figure the target uses. */
  kiB: number;
  settleMs: number;
  /** Every sample, ms after the calls stopped. */
  samples: { atMs: number; kiB: number }[];
}

const EVERY_MS = 1000;

/** Fresh: a second or two after start-up the daemon still settles (lazy code, the bus handshake). */
export const FRESH_IDLE = { settleMs: 1000, untilMs: 3000 };
/** After the load: the idle collector acts 1-2 s after the last call (docs/PERFORMANCE.md says which samples count). */
export const IDLE_AFTER_LOAD = { settleMs: 5000, untilMs: 8000 };

export async function idleRss(pid: number, opts: { settleMs: number; untilMs: number }): Promise<IdleRss> {
  const started = Date.now();
  const samples: IdleRss['samples'] = [];
  for (;;) {
    const atMs = Date.now() - started;
    samples.push({ atMs, kiB: rssKiB(pid) });
    if (atMs >= opts.untilMs) break;
    await new Promise((resolve) => setTimeout(resolve, EVERY_MS));
  }
  const settled = samples.filter((s) => s.atMs >= opts.settleMs);
  return { kiB: Math.max(...settled.map((s) => s.kiB)), settleMs: opts.settleMs, samples };
}

export const formatIdleSamples = (idle: IdleRss): string =>
  idle.samples.map((s) => `${(s.atMs / 1000).toFixed(0)} s ${(s.kiB / 1024).toFixed(1)}`).join(', ');
