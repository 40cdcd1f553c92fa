import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Exclusions, parseSubidFile, readNsresourcedRegistry } from '../../src/userns/exclusions';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-excl-'));
}

test('subuid lines become ranges; junk lines are ignored', (t) => {
  t.deepEqual(parseSubidFile('# comment\nalice:100000:65536\n\nbroken\nbob:x:1\n1001:200000:10\n'), [
    { start: 100000, count: 65536 },
    { start: 200000, count: 10 },
  ]);
});

test('nsresourced registry entries reserve their blocks, even unreadable ones by name', (t) => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'i4026532000.userns'), JSON.stringify({ name: 'x', start: 65536 * 20, size: 65536, target: 0 }));
  fs.writeFileSync(path.join(dir, `u${65536 * 30}.userns`), 'not json');
  fs.writeFileSync(path.join(dir, 'other.txt'), '{}');
  const ranges = readNsresourcedRegistry(dir);
  t.deepEqual(
    ranges.sort((a, b) => a.start - b.start),
    [
      { start: 65536 * 20, count: 65536 },
      { start: 65536 * 30, count: 65536 },
    ],
  );
  t.deepEqual(readNsresourcedRegistry(path.join(dir, 'missing')), []);
});

test('every source contributes blocked blocks; a range straddling two blocks blocks both', (t) => {
  const dir = tmp();
  const subuid = path.join(dir, 'subuid');
  fs.writeFileSync(subuid, `alice:${65536 * 10 + 5}:65536\n`);
  const registry = path.join(dir, 'registry');
  fs.mkdirSync(registry);
  fs.writeFileSync(path.join(registry, 'i1.userns'), JSON.stringify({ start: 65536 * 40, size: 65536 }));
  let nssCalls = 0;
  const exclusions = new Exclusions({
    subidFiles: [subuid, path.join(dir, 'missing-subgid')],
    nsresourcedRegistry: registry,
    nssTtlMs: 60_000,
    listNssIds: () => {
      nssCalls++;
      return { uids: [0, 65534, 65536 * 50 + 1], gids: [65536 * 60] };
    },
  });
  const blocked = exclusions.blockedBlocks(1000);
  for (const b of [0, 10, 11, 40, 50, 60]) t.true(blocked.has(b), `block ${b}`);
  t.false(blocked.has(12));
  exclusions.blockedBlocks(2000);
  t.is(nssCalls, 1, 'NSS is cached within its TTL');
  exclusions.invalidate();
  exclusions.blockedBlocks(3000);
  t.is(nssCalls, 2);
});

test('subid files are looked at again only once their freshness runs out', (t) => {
  const dir = tmp();
  const subuid = path.join(dir, 'subuid');
  fs.writeFileSync(subuid, '');
  const exclusions = new Exclusions({
    subidFiles: [subuid],
    nsresourcedRegistry: path.join(dir, 'none'),
    nssTtlMs: 60_000,
    filesTtlMs: 1000,
    listNssIds: () => ({ uids: [], gids: [] }),
  });
  t.false(exclusions.blockedBlocks(10_000).has(20));
  fs.writeFileSync(subuid, `x:${65536 * 20}:65536\n`);
  t.false(exclusions.blockedBlocks(10_500).has(20), 'still within the freshness window');
  t.true(exclusions.blockedBlocks(11_000).has(20));
});
