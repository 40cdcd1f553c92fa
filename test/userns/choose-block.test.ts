import test from 'ava';
import { chooseBlock } from '../../src/userns/choose-block';
import { FreedBlocks, parseFreedLog, type BlockOwner } from '../../src/registry/freed-blocks';

const pool = { first: 65536 * 8, last: 65536 * 12 - 1 }; // blocks 8..11
const ME = 61001;
const OTHER = 61002;

interface Case {
  inUse?: number[];
  blocked?: number[];
  neverUsedFrom?: number;
  /** Block indices in the order they were freed, with their last owner (default: another user). */
  freedInOrder?: Array<number | [number, BlockOwner]>;
  reuseAcrossUsers?: boolean;
}

const choose = test.macro({
  exec(t, input: Case, expected: { block: number; neverUsedFrom: number; skipped?: number[] } | undefined) {
    const freed = new FreedBlocks();
    (input.freedInOrder ?? []).forEach((entry, i) => {
      const [b, owner] = typeof entry === 'number' ? [entry, OTHER] : entry;
      freed.markFreed(b * 65536, 1000 + i, owner);
    });
    const inUse = new Set(input.inUse ?? []);
    const choice = chooseBlock({
      pool,
      requester: ME,
      reuseAcrossUsers: input.reuseAcrossUsers ?? false,
      inUse: (b) => inUse.has(b),
      blocked: new Set(input.blocked ?? []),
      neverUsedFrom: input.neverUsedFrom ?? 0,
      leastRecentlyFreed: (usable, owner) => freed.pickLeastRecentlyFreed(usable, owner),
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
test('a user gets its own former block before a never-used one', choose, { neverUsedFrom: 9, freedInOrder: [[8, ME]] }, { block: 8, neverUsedFrom: 9 });
test('never-used blocks come before blocks other users held', choose, { neverUsedFrom: 9, freedInOrder: [8] }, { block: 9, neverUsedFrom: 10 });
test('excluded never-used blocks are skipped and reported', choose, { blocked: [8, 9] }, { block: 10, neverUsedFrom: 11, skipped: [8, 9] });
test(
  'of its own former blocks a user gets the least recently freed',
  choose,
  { neverUsedFrom: 12, freedInOrder: [10, [11, ME], 8, [9, ME]] },
  { block: 11, neverUsedFrom: 12 },
);
test('blocks other users held are never handed out', choose, { neverUsedFrom: 12, freedInOrder: [10, 8, 11, 9] }, undefined);
test('nor are blocks freed before owners were recorded', choose, { neverUsedFrom: 12, freedInOrder: [[10, 'unknown']] }, undefined);
test(
  'blocks the cursor passed without handing them out are anyone’s',
  choose,
  { neverUsedFrom: 12, freedInOrder: [10, [11, 'none']] },
  { block: 11, neverUsedFrom: 12 },
);
test(
  'with reuse across users allowed, the least recently freed of anyone’s wins',
  choose,
  { neverUsedFrom: 12, freedInOrder: [10, 8, [11, 'unknown'], 9], reuseAcrossUsers: true },
  { block: 10, neverUsedFrom: 12 },
);
test(
  'with reuse across users allowed, a user’s own block still comes first',
  choose,
  { neverUsedFrom: 12, freedInOrder: [10, 8, [11, ME]], reuseAcrossUsers: true },
  { block: 11, neverUsedFrom: 12 },
);
test(
  'a freed block that is excluded now is passed over',
  choose,
  { neverUsedFrom: 12, freedInOrder: [[10, ME], [8, ME]], blocked: [10] },
  { block: 8, neverUsedFrom: 12 },
);
test(
  'a freed block that is in use again is passed over',
  choose,
  { neverUsedFrom: 12, freedInOrder: [[9, ME], [11, ME]], inUse: [9] },
  { block: 11, neverUsedFrom: 12 },
);
test('nothing free gives undefined', choose, { inUse: [8, 9], blocked: [10, 11] }, undefined);
test(
  'freed blocks outside the pool are never chosen',
  choose,
  { neverUsedFrom: 12, freedInOrder: [[7, ME], [12, ME]], inUse: [8, 9, 10, 11] },
  undefined,
);
test(
  'with no never-used block usable the cursor moves past the pool and the excluded ones join the freed order',
  choose,
  { neverUsedFrom: 10, blocked: [10, 11], freedInOrder: [[9, 'none']] },
  { block: 9, neverUsedFrom: 12, skipped: [10, 11] },
);

test('re-freeing a block moves it to the back of the order and records its new owner', (t) => {
  const freed = new FreedBlocks();
  freed.markFreed(1, 10, ME);
  freed.markFreed(2, 20, 'none');
  freed.markFreed(1, 30, OTHER);
  t.deepEqual(freed.entries(), [
    [2, { atMs: 20, owner: 'none' }],
    [1, { atMs: 30, owner: OTHER }],
  ]);
  t.is(freed.pickLeastRecentlyFreed(() => true, ME), undefined, 'the block is no longer ME’s');
  t.is(freed.pickLeastRecentlyFreed(() => true, OTHER), 1);
  t.is(freed.takePending(), `1 10 ${ME}\n2 20 -\n1 30 ${OTHER}\n`);
  t.is(freed.takePending(), '');
});

test('log lines keep their owner; lines without one (older logs) give unknown', (t) => {
  const freed = new FreedBlocks();
  t.is(parseFreedLog(`5 1\n6 2 ${ME}\n7 3 -\n8 4 x\n9 5`, freed), 4);
  t.deepEqual(
    freed.entries().map(([base, { owner }]) => [base, owner]),
    [
      [5, 'unknown'],
      [6, ME],
      [7, 'none'],
      [9, 'unknown'],
    ],
  );
});
