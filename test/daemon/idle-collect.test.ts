// collectWhenIdle: one full collection once the calls stop and the heap has
// grown, never while calls are in flight, never twice for one quiet spell.
// The daemon's own use of it (with --expose-gc) is measured by the bench's
// idle-after-load memory figure.
import test from 'ava';
import { collectWhenIdle } from '../../src/daemon/idle-collect';

const QUIET_MS = 20;
const settle = () => new Promise((resolve) => setTimeout(resolve, QUIET_MS * 6));

function harness(opts: { heap: number; inFlight?: number; lastMs?: number }) {
  const state = { lastMs: opts.lastMs ?? Date.now() - 10 * QUIET_MS, inFlight: opts.inFlight ?? 0, heap: opts.heap, collections: 0, trims: 0, trimsBeforeCollection: 0 };
  const stop = collectWhenIdle({
    activity: () => ({ lastMs: state.lastMs, inFlight: state.inFlight }),
    gc: () => {
      state.collections++;
      state.heap = 0;
    },
    trimCHeap: () => {
      state.trims++;
      if (state.trims > state.collections) state.trimsBeforeCollection++;
    },
    quietMs: QUIET_MS,
    growthBytes: 100,
    heap: () => ({ totalBytes: state.heap, usedBytes: state.heap }),
  });
  return { state, stop };
}

test('a quiet daemon whose heap grew collects once, and again only after new calls grew it again', async (t) => {
  const { state, stop } = harness({ heap: 0 });
  try {
    state.heap = 1000;
    await settle();
    t.is(state.collections, 1);
    state.heap = 1000;
    await settle();
    t.is(state.collections, 1, 'no new calls since: no second collection');
    state.lastMs = Date.now();
    await settle();
    t.is(state.collections, 2);
    t.is(state.trims, 2, 'the C heap is trimmed after each collection');
    t.is(state.trimsBeforeCollection, 0);
  } finally {
    stop();
  }
});

test('no collection while calls are in flight', async (t) => {
  const { state, stop } = harness({ heap: 0, inFlight: 1 });
  try {
    state.heap = 1000;
    await settle();
    t.is(state.collections, 0);
    t.is(state.trims, 0);
  } finally {
    stop();
  }
});

test('no collection when the heap has not grown by the threshold', async (t) => {
  const { state, stop } = harness({ heap: 0 });
  try {
    state.heap = 99;
    await settle();
    t.is(state.collections, 0);
  } finally {
    stop();
  }
});

test('without an exposed gc it does nothing', (t) => {
  const stop = collectWhenIdle({ activity: () => ({ lastMs: 0, inFlight: 0 }), gc: undefined });
  t.notThrows(stop);
});
