import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findMountByIdInMountinfo, parseMountinfoLine } from '../../src/mounts/mountinfo';

const SAMPLE = [
  '26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
  '62 42 254:0 /tmp/a\\040b /tmp/with\\040space\\134x rw,nosuid,nodev,relatime,idmapped - ext4 /dev/vda rw',
  '70 26 0:50 / /run/x rw master:3 propagate_from:2 - tmpfs tmp\\011fs rw,size=10k',
].join('\n');

test('fields, escapes and optional fields', (t) => {
  const [, escaped, optional] = SAMPLE.split('\n').map(parseMountinfoLine);
  t.like(escaped, {
    mountId: 62,
    parentId: 42,
    device: '254:0',
    root: '/tmp/a b',
    mountPoint: '/tmp/with space\\x',
    fsType: 'ext4',
    source: '/dev/vda',
    optionalFields: [],
  });
  t.deepEqual(escaped.mountOptions, ['rw', 'nosuid', 'nodev', 'relatime', 'idmapped']);
  t.deepEqual(optional.optionalFields, ['master:3', 'propagate_from:2']);
  t.is(optional.source, 'tmp\tfs');
  t.deepEqual(optional.superOptions, ['rw', 'size=10k']);
});

test('a malformed line is an error, not a guess', (t) => {
  t.throws(() => parseMountinfoLine('26 1 254:0 / / rw'), { message: /unexpected mountinfo line/ });
});

test('findMountByIdInMountinfo looks up by the legacy id', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-mountinfo-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'mountinfo');
  fs.writeFileSync(file, SAMPLE + '\n');
  t.is(findMountByIdInMountinfo(62, { mountinfoPath: file })?.mountPoint, '/tmp/with space\\x');
  t.is(findMountByIdInMountinfo(63, { mountinfoPath: file }), undefined);
});
