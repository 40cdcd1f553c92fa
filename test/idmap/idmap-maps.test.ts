import test from 'ava';
import { WrongNamespace } from '../../src/errors';
import { FOREIGN_UID_BASE as F } from '../../src/idmap/foreign-range';
import { foreignIdmap, hostIdOf, ownerIdmap, targetRootHostId } from '../../src/idmap/idmap-maps';
import type { IdMapEntry } from '../../src/native/userns';

const foreign = test.macro((t, target: IdMapEntry[], expected: IdMapEntry[]) => {
  t.deepEqual(foreignIdmap(target, 'uid'), expected);
});

test('a full 64K target maps the whole foreign range', foreign, [{ inside: 0, outside: 1_100_000, count: 65536 }], [
  { inside: F, outside: 1_100_000, count: 65536 },
]);
test('a larger target is cut to 64K', foreign, [{ inside: 0, outside: 500_000, count: 1_000_000 }], [
  { inside: F, outside: 500_000, count: 65536 },
]);
test('a split target gives one line per part, sorted', foreign,
  [
    { inside: 1000, outside: 61001, count: 1 },
    { inside: 0, outside: 1_100_000, count: 1000 },
    { inside: 1001, outside: 1_101_001, count: 64535 },
  ],
  [
    { inside: F, outside: 1_100_000, count: 1000 },
    { inside: F + 1000, outside: 61001, count: 1 },
    { inside: F + 1001, outside: 1_101_001, count: 64535 },
  ],
);
test('a target line starting inside the range is clipped at its end', foreign, [{ inside: 65000, outside: 7_000_000, count: 2000 }], [
  { inside: F + 65000, outside: 7_000_000, count: 536 },
]);

test('a target mapping nothing below 65536 is the wrong namespace', (t) => {
  t.throws(() => foreignIdmap([{ inside: 65536, outside: 1_000_000, count: 10 }], 'gid'), {
    instanceOf: WrongNamespace,
    message: /maps no gid/,
  });
});

test('hostIdOf finds the line covering an id', (t) => {
  const map = [
    { inside: 0, outside: 100, count: 10 },
    { inside: 10, outside: 500, count: 5 },
  ];
  t.is(hostIdOf(map, 0), 100);
  t.is(hostIdOf(map, 12), 502);
  t.is(hostIdOf(map, 15), undefined);
});

test('owner mode maps one id onto the target root', (t) => {
  t.deepEqual(ownerIdmap(F, targetRootHostId([{ inside: 0, outside: 1_100_000, count: 65536 }], 'uid')), [
    { inside: F, outside: 1_100_000, count: 1 },
  ]);
  t.throws(() => targetRootHostId([{ inside: 1, outside: 5, count: 1 }], 'uid'), { instanceOf: WrongNamespace });
});
