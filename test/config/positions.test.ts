import test from 'ava';
import { findKey } from '../../src/config/positions';

const TEXT = `# top comment
[daemon]
log_level = "info"
  quota_per_uid = 1   # wrong section on purpose

[ pool ]
quota_per_uid = 2
pool.first = 3
`;

const finds = test.macro({
  exec(t, section: string, key: string | undefined, expected: { line: number; column: number } | undefined) {
    t.deepEqual(findKey(TEXT, section, key), expected);
  },
  title: (_p, section: string, key: string | undefined) => `finds ${key === undefined ? `[${section}]` : `${section}.${key}`}`,
});

test(finds, 'daemon', 'log_level', { line: 3, column: 1 });
test(finds, 'daemon', 'quota_per_uid', { line: 4, column: 3 });
test(finds, 'pool', 'quota_per_uid', { line: 7, column: 1 });
test(finds, 'pool', undefined, { line: 6, column: 1 });
// Inside [pool], "pool.first" is the table pool.pool: not our key. Falls back to the section.
test(finds, 'pool', 'first', { line: 6, column: 1 });
test(finds, 'images', undefined, undefined);
test(finds, 'images', 'directories', undefined);
