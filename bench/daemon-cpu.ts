// A process's CPU time over a stretch of calls, in nanoseconds.
//
// utime+stime of /proc/PID/stat come in clock ticks of 10 ms: over 300
// calls that is 0.033 ms per call, a tenth of what some of the bench's
// figures measure. The first field of /proc/PID/task/TID/schedstat is the
// thread's time on CPU in ns (the scheduler's own sum_exec_runtime, there
// without CONFIG_SCHEDSTATS), so the sum over the threads is exact, with
// one catch: a thread that exits takes its time with it. So both figures
// are read each time, and when a thread seen at the start is gone (or its
// tid came back as a new thread) at the end, the tick figure is used and
// the reading says why.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface CpuSnapshot {
  pid: number;
  /** ns on CPU of each thread that could be read. */
  threads: Map<number, number>;
  /** utime+stime of the whole process, in ms, at clock-tick resolution. */
  tickMs: number;
}

export interface CpuSpent {
  ms: number;
  /** schedstat: the exact sum over threads; ticks: /proc/PID/stat, because a thread exited in between. */
  clock: 'schedstat' | 'ticks';
  /** When clock is ticks: which threads went away. */
  reason?: string;
  /** utime+stime over the same stretch, in 10 ms ticks: what the bench used to read, kept for comparison. */
  tickMs: number;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process (all its threads, exited ones included), in ms, in whole clock ticks. */
export function tickCpuMs(pid: number): number {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses; the fields follow its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

function threadNs(pid: number, tid: string): number | undefined {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch (err) {
    // Exited between the listing and the read: it is not there.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
}

export function snapshotCpu(pid: number): CpuSnapshot {
  const threads = new Map<number, number>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const ns = threadNs(pid, tid);
    if (ns !== undefined) threads.set(Number(tid), ns);
  }
  return { pid, threads, tickMs: tickCpuMs(pid) };
}

/** CPU time between two snapshots of one process. Threads that started in between count whole. */
export function cpuSpent(before: CpuSnapshot, after: CpuSnapshot): CpuSpent {
  const gone: number[] = [];
  let ns = 0;
  for (const [tid, atStart] of before.threads) {
    const atEnd = after.threads.get(tid);
    // Less at the end than at the start: the tid was reused by a new thread.
    if (atEnd === undefined || atEnd < atStart) gone.push(tid);
    else ns += atEnd - atStart;
  }
  for (const [tid, atEnd] of after.threads) if (!before.threads.has(tid)) ns += atEnd;
  const tickMs = after.tickMs - before.tickMs;
  if (gone.length > 0) {
    return { ms: tickMs, clock: 'ticks', reason: `thread${gone.length > 1 ? 's' : ''} ${gone.join(', ')} of pid ${before.pid} exited`, tickMs };
  }
  return { ms: ns / 1e6, clock: 'schedstat', tickMs };
}

/** Starts a measurement; the returned function ends it. */
export function startCpuMeasure(pid: number): () => CpuSpent {
  const before = snapshotCpu(pid);
  return () => cpuSpent(before, snapshotCpu(pid));
}
