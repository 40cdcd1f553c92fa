import test from 'ava';
import { chooseBlock } from '../../src/userns/choose-block';
import { FreedBlocks } from '../../src/registry/freed-blocks';

const pool = { first: 65536 * 8, last: 65536 * 12 - 1 }; // blocks 8..11

interface Case {
  inUse?: number[];
  blocked?: number[];
  neverUsedFrom?: number;
  /** Block indices in the order they were freed. */
  freedInOrder?: number[];
}

const choose = test.macro({
  exec(t, input: Case, expected: { block: number; neverUsedFrom: number; skipped?: number[] } | undefined) {
    const freed = new FreedBlocks();
    (input.freedInOrder ?? []).forEach((b, i) => freed.markFreed(b * 65536, 1000 + i));
    const inUse = new Set(input.inUse ?? []);
    const choice = chooseBlock({
      pool,
      inUse: (b) => inUse.has(b),
      blocked: new Set(input.blocked ?? []),
      neverUsedFrom: input.neverUsedFrom ?? 0,
      leastRecentlyFreed: (usable) => freed.pickLeastRecentlyFreed(usable),
    });
    t.deepEqual(
      choice,
      expected === undefined
        ? undefined
        : { base: expected.block * 65536, neverUsedFrom: expected.neverUsedFrom, skipped: expected.skipped ?? [] },
    );
  },
  title: (title) => `chooseBlock: ${title}`,
});

test('a fresh pool gives its lowest block', choose, {}, { block: 8, neverUsedFrom: 9 });
test('never-used blocks come before freed ones', choose, { neverUsedFrom: 9, freedInOrder: [8] }, { block: 9, neverUsedFrom: 10 });
test('excluded never-used blocks are skipped and reported', choose, { blocked: [8, 9] }, { block: 10, neverUsedFrom: 11, skipped: [8, 9] });
test(
  'once every block was used, the least recently freed wins',
  choose,
  { neverUsedFrom: 12, freedInOrder: [10, 8, 11, 9] },
  { block: 10, neverUsedFrom: 12 },
);
test(
  'a freed block that is excluded now is passed over',
  choose,
  { neverUsedFrom: 12, freedInOrder: [10, 8], blocked: [10] },
  { block: 8, neverUsedFrom: 12 },
);
test('a freed block that is in use again is passed over', choose, { neverUsedFrom: 12, freedInOrder: [9, 11], inUse: [9] }, { block: 11, neverUsedFrom: 12 });
test('nothing free gives undefined', choose, { inUse: [8, 9], blocked: [10, 11] }, undefined);
test('freed blocks outside the pool are never chosen', choose, { neverUsedFrom: 12, freedInOrder: [7, 12], inUse: [8, 9, 10, 11] }, undefined);
test(
  'with no never-used block usable the cursor moves past the pool and the excluded ones join the freed order',
  choose,
  { neverUsedFrom: 10, blocked: [10, 11], freedInOrder: [9] },
  { block: 9, neverUsedFrom: 12, skipped: [10, 11] },
);

test('re-freeing a block moves it to the back of the order', (t) => {
  const freed = new FreedBlocks();
  freed.markFreed(1, 10);
  freed.markFreed(2, 20);
  freed.markFreed(1, 30);
  t.deepEqual(freed.entries(), [
    [2, 20],
    [1, 30],
  ]);
  t.is(freed.takePending(), '1 10\n2 20\n1 30\n');
  t.is(freed.takePending(), '');
});
