// Samples a process's resident memory and open fds over time, for the soak
// test and the benchmark's idle/loaded RSS figures.
import fs from 'node:fs';

export interface ProcessSample {
  /** Milliseconds since sampling started. */
  tMs: number;
  rssKiB: number;
  fds: number;
}

/** VmRSS of /proc/PID/status, in KiB. */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

export function sampleOnce(pid: number, startedAt = Date.now()): ProcessSample {
  return { tMs: Date.now() - startedAt, rssKiB: rssKiB(pid), fds: fdCount(pid) };
}

export interface Sampler {
  samples: ProcessSample[];
  /** Takes a last sample and stops. */
  stop(): ProcessSample[];
}

export function startSampler(pid: number, intervalMs = 250): Sampler {
  const startedAt = Date.now();
  const samples: ProcessSample[] = [sampleOnce(pid, startedAt)];
  const take = () => {
    try {
      samples.push(sampleOnce(pid, startedAt));
    } catch {
      // The process is gone; the test that owns it will say so.
    }
  };
  const timer = setInterval(take, intervalMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}
