import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Exclusions, parseSubidFile } from '../../src/userns/exclusions';
import { readNsresourcedRegistry, NsresourcedRegistryUnreadable } from '../../src/userns/nsresourced-registry';
import { nssKnowsId } from '../../src/native/nss';
import { SystemError } from '../../src/errors';

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
  // A record gives a uid and a gid range; here both start at the same id.
  const ranges = [...new Map(readNsresourcedRegistry(dir).map((r) => [`${r.start}/${r.count}`, r])).values()];
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

const B = 65536;

test('nsresourced registry: uid and gid starts, sizes, delegates and delegation files are all read', (t) => {
  const dir = tmp();
  // As userns-registry.c writes them: a record and its links, a delegation file and its link, the owner dir, the lock.
  const record = JSON.stringify({ owner: 1000, name: 'c', userns: 4026532001, start: 40 * B, target: 0, startGid: 41 * B, targetGid: 0, size: B, delegates: [{ userns: 4026532001, start: 50 * B, startGid: 51 * B, size: B }] });
  fs.writeFileSync(path.join(dir, 'i4026532001.userns'), record);
  fs.linkSync(path.join(dir, 'i4026532001.userns'), path.join(dir, 'nc.userns'));
  fs.linkSync(path.join(dir, 'i4026532001.userns'), path.join(dir, `u${40 * B}.userns`));
  fs.writeFileSync(path.join(dir, `u${60 * B}.delegate`), JSON.stringify({ userns: 4026532002, start: 60 * B, startGid: 61 * B, size: B }));
  fs.mkdirSync(path.join(dir, 'o1000.owns'));
  fs.linkSync(path.join(dir, 'i4026532001.userns'), path.join(dir, 'o1000.owns', 'i4026532001.userns'));
  fs.writeFileSync(path.join(dir, 'lock'), '');
  fs.writeFileSync(path.join(dir, '.#i4026532009.usernsXYZ'), '{"half');
  // An older record without startGid: the gid range starts where the uid range does. Size 0: no range.
  fs.writeFileSync(path.join(dir, 'i4026532003.userns'), JSON.stringify({ owner: 1, name: 'old', userns: 4026532003, start: 70 * B, size: B }));
  fs.writeFileSync(path.join(dir, 'i4026532004.userns'), JSON.stringify({ owner: 1, name: 'none', userns: 4026532004 }));
  const starts = new Set(readNsresourcedRegistry(dir).map((r) => r.start / B));
  t.deepEqual([...starts].sort((a, b) => a - b), [40, 41, 50, 51, 60, 61, 70]);
  t.true(readNsresourcedRegistry(dir).every((r) => r.count === B));
});

const unreadableRegistry = test.macro({
  exec(t, make: (dir: string) => string, reason: RegExp) {
    const registry = make(tmp());
    const error = t.throws(() => readNsresourcedRegistry(registry), { instanceOf: NsresourcedRegistryUnreadable });
    t.regex(error!.message, reason);
    t.regex(error!.message, /refusing to allocate/);
    // The exclusions, and so every allocation, fail closed.
    const exclusions = new Exclusions({ subidFiles: [], nsresourcedRegistry: registry, nssTtlMs: 1, listNssIds: () => ({ uids: [], gids: [] }) });
    t.throws(() => exclusions.blockedBlocks(), { instanceOf: NsresourcedRegistryUnreadable });
  },
  title: (what) => `an nsresourced registry ${what} refuses allocations`,
});
test('that is not a directory', unreadableRegistry, (dir) => {
  fs.writeFileSync(path.join(dir, 'registry'), '');
  return path.join(dir, 'registry');
}, /listing it: ENOTDIR/);
test('with a record that cannot be parsed', unreadableRegistry, (dir) => {
  fs.writeFileSync(path.join(dir, 'i4026532001.userns'), '{"start": 2621440, "size":');
  return dir;
}, /i4026532001\.userns/);
test('with a record of the wrong shape', unreadableRegistry, (dir) => {
  fs.writeFileSync(path.join(dir, 'nbox.userns'), JSON.stringify({ start: -1, size: B }));
  return dir;
}, /nbox\.userns: "start" is not a valid id/);
test('with a record that cannot be read', unreadableRegistry, (dir) => {
  fs.mkdirSync(path.join(dir, 'i4026532001.userns'));
  return dir;
}, /i4026532001\.userns: EISDIR/);

// Real NSS (files and systemd here): getpwuid/getgrgid, no enumeration.
test('non-enumerating lookups ask NSS for the ends of a block, once per freshness period', (t) => {
  let lookups = 0;
  const exclusions = new Exclusions({
    subidFiles: [],
    nsresourcedRegistry: path.join(tmp(), 'none'),
    nssTtlMs: 60_000,
    lookupTtlMs: 1000,
    // As a source that does not enumerate: the listing is empty.
    listNssIds: () => ({ uids: [], gids: [] }),
    nssKnowsId: (kind, id) => {
      lookups++;
      return nssKnowsId(kind, id);
    },
  });
  t.false(exclusions.blockedBlocks(0).has(0), 'enumeration lists nobody');
  t.true(exclusions.knownToNss(0, 0), 'getpwuid(0) finds root, the first id of block 0');
  t.false(exclusions.knownToNss(20000, 0), 'nobody at 1310720000 or 1310785535');
  const asked = lookups;
  t.false(exclusions.knownToNss(20000, 500));
  t.is(lookups, asked, 'cached within lookupTtlMs');
  exclusions.knownToNss(20000, 1500);
  t.true(lookups > asked, 'asked again once stale');
});

test('a lookup NSS cannot answer fails the check rather than passing it', (t) => {
  const exclusions = new Exclusions({
    subidFiles: [],
    nsresourcedRegistry: path.join(tmp(), 'none'),
    nssTtlMs: 60_000,
    listNssIds: () => ({ uids: [], gids: [] }),
    nssKnowsId: () => {
      throw new SystemError(111, 'getpwuid(1310720000)');
    },
  });
  t.throws(() => exclusions.knownToNss(20000), { instanceOf: SystemError, message: /ECONNREFUSED/ });
});
