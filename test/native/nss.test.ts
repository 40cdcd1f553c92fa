import test from 'ava';
import { listNssIds } from '../../src/native/nss';

test('NSS ids include root and nobody/nogroup', (t) => {
  const { uids, gids } = listNssIds();
  t.true(uids.includes(0));
  t.true(uids.includes(65534));
  t.true(gids.includes(0));
  t.true(gids.includes(65534));
});

test('NSS ids come sorted and without duplicates', (t) => {
  const { uids, gids } = listNssIds();
  for (const ids of [uids, gids]) {
    t.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b));
  }
});
