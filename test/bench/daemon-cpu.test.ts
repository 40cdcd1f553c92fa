// The bench's CPU reader against a real process: a child that burns CPU in
// two threads at once and reports its own getrusage figure (exact, all
// threads) around the burn, and a child whose worker thread exits between
// the two readings.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { cpuSpent, snapshotCpu } from '../../bench/daemon-cpu';

/**
 * Prints {"usageMs"} (its own user+system CPU) once its worker runs, then
 * on each line from stdin does the next step: "burn" spins its main thread
 * and a worker until each has run 300 ms on a CPU (its own schedstat; wall
 * time would give a thread on a loaded machine far less), at once, and
 * prints its own CPU time before and after; "end-worker" lets its worker exit.
 */
const CHILD = `
const { Worker } = require('node:worker_threads');
const readline = require('node:readline');
const usageMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const threadNs = () => Number(require('node:fs').readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
const spin = (ms) => { const until = threadNs() + ms * 1e6; const giveUp = Date.now() + 20000; while (threadNs() < until && Date.now() < giveUp); };
const worker = new Worker(\`
  const { parentPort } = require('node:worker_threads');
  const threadNs = () => Number(require('node:fs').readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  parentPort.on('message', (m) => {
    if (m === 'end') return process.exit(0);
    const until = threadNs() + m * 1e6; const giveUp = Date.now() + 20000;
    while (threadNs() < until && Date.now() < giveUp);
    parentPort.postMessage('done');
  });
\`, { eval: true });
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
worker.once('online', () => say({ usageMs: usageMs() }));
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'burn') {
    const fromMs = usageMs();
    worker.once('message', () => say({ fromMs, toMs: usageMs() }));
    worker.postMessage(300);
    spin(300);
  } else if (line === 'end-worker') {
    worker.once('exit', () => setTimeout(() => say({ usageMs: usageMs() }), 50));
    worker.postMessage('end');
  }
});
`;

function startChild(): { child: ChildProcess; step: (line?: string) => Promise<{ usageMs?: number; fromMs?: number; toMs?: number }> } {
  const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! });
  const queue: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  lines.on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else queue.push(line);
  });
  const step = async (line?: string) => {
    if (line) child.stdin!.write(`${line}\n`);
    const next = queue.shift() ?? (await new Promise<string>((resolve) => waiters.push(resolve)));
    return JSON.parse(next) as { usageMs?: number; fromMs?: number; toMs?: number };
  };
  return { child, step };
}

test('the schedstat sum matches the process\'s own CPU time, to well under a clock tick, with two threads burning', async (t) => {
  const { child, step } = startChild();
  try {
    await step();
    // Let start-up work still running after the worker came online finish.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = snapshotCpu(child.pid!);
    const burnt = await step('burn');
    const after = snapshotCpu(child.pid!);
    const spent = cpuSpent(before, after);
    const own = burnt.toMs! - burnt.fromMs!;
    t.is(spent.clock, 'schedstat');
    // Two threads ran 300 ms each on a CPU, however loaded the machine.
    t.true(own >= 600, `the child used ${own} ms`);
    // Between the child's own readings and ours it only writes a line and reads one.
    t.true(Math.abs(spent.ms - own) < 3, `schedstat ${spent.ms} ms, getrusage ${own} ms`);
    t.log(`schedstat ${spent.ms.toFixed(3)} ms, getrusage ${own.toFixed(3)} ms, ticks ${after.tickMs - before.tickMs} ms`);
    // Both spinning threads show up, each with most of its share.
    const perThread = [...after.threads].map(([tid, ns]) => (ns - (before.threads.get(tid) ?? 0)) / 1e6);
    t.true(perThread.filter((ms) => ms >= 300).length >= 2, `per thread: ${perThread.map((ms) => ms.toFixed(1)).join(', ')} ms`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('a thread that exits between the readings makes it fall back to clock ticks, and say which', async (t) => {
  const { child, step } = startChild();
  try {
    await step();
    const before = snapshotCpu(child.pid!);
    await step('end-worker');
    const after = snapshotCpu(child.pid!);
    const spent = cpuSpent(before, after);
    t.is(spent.clock, 'ticks');
    t.regex(spent.reason ?? '', new RegExp(`of pid ${child.pid} exited`));
    t.is(spent.ms, after.tickMs - before.tickMs);
  } finally {
    child.kill('SIGKILL');
  }
});

test('a new thread counts whole and a vanished tid reused by a younger thread is caught', (t) => {
  const before = { pid: 1, threads: new Map([[10, 5e6], [11, 9e6]]), tickMs: 100 };
  t.deepEqual(cpuSpent(before, { pid: 1, threads: new Map([[10, 6e6], [11, 10e6], [12, 3e6]]), tickMs: 110 }), { ms: 5, clock: 'schedstat', tickMs: 10 });
  const reused = cpuSpent(before, { pid: 1, threads: new Map([[10, 6e6], [11, 1e6]]), tickMs: 120 });
  t.is(reused.clock, 'ticks');
  t.is(reused.ms, 20);
  t.regex(reused.reason ?? '', /thread 11 of pid 1 exited/);
});
