import test from 'ava';
import { chooseBlock } from '../../src/userns/choose-block';

const pool = { first: 65536 * 8, last: 65536 * 12 - 1 }; // blocks 8..11

const choose = test.macro({
  exec(t, input: { inUse?: number[]; blocked?: number[]; freedAt?: Record<string, number> }, expected: number | undefined) {
    t.is(
      chooseBlock({
        pool,
        inUse: new Set(input.inUse ?? []),
        blocked: new Set(input.blocked ?? []),
        freedAt: input.freedAt ?? {},
      }),
      expected === undefined ? undefined : expected * 65536,
    );
  },
  title: (title) => `chooseBlock: ${title}`,
});

test('empty pool state gives the lowest block', choose, {}, 8);
test('skips blocks in use', choose, { inUse: [8, 9] }, 10);
test('skips excluded blocks', choose, { blocked: [8] }, 9);
test('prefers never-used blocks over freed ones', choose, { freedAt: { [8 * 65536]: 1 } }, 9);
test(
  'among freed blocks the least recently freed wins',
  choose,
  { inUse: [], blocked: [], freedAt: { [8 * 65536]: 300, [9 * 65536]: 100, [10 * 65536]: 200, [11 * 65536]: 50 } },
  11,
);
test('a freed block that is excluded now is not reused', choose, { freedAt: { [8 * 65536]: 1, [9 * 65536]: 2, [10 * 65536]: 3, [11 * 65536]: 4 }, blocked: [11] }, 8);
test('nothing free gives undefined', choose, { inUse: [8, 9], blocked: [10, 11] }, undefined);
test('blocks outside the pool are never chosen', choose, { inUse: [8, 9, 10, 11], freedAt: { [7 * 65536]: 1, [12 * 65536]: 1 } }, undefined);
