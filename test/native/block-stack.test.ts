// The block-device stack under a disk file system, read from sysfs. This
// kernel has no device-mapper, md, nbd, ublk, rbd or drbd, so the stacks
// are laid out in a fake sysfs tree made here, the way the kernel lays
// them out (links in /sys/dev/block and in each device's slaves/, a
// partition's directory inside its disk's); test/native/file-system-server.test.ts
// checks the real loop devices and file-backed erofs of this machine.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { BlockStack } from '../../src/native/block-stack';
import { superblockMayWait } from '../../src/native/file-system-server';

const PCI = 'devices/pci0000:00/0000:00:02.0/virtio1/block';
const ISCSI = 'devices/platform/host3/session1/target3:0:0/3:0:0:0/block';
const VIRTUAL = 'devices/virtual/block';
const FABRICS = 'devices/virtual/nvme-fabrics/ctl/nvme1';

interface Device {
  /** Where its directory is, below the sysfs root. */
  dir: string;
  devno: string;
  /** Names of the devices it sits on (their own entries). */
  slaves?: string[];
  partitions?: Array<{ name: string; devno: string }>;
}

const DEVICES: Record<string, Device> = {
  vda: { dir: `${PCI}/vda`, devno: '254:0', partitions: [{ name: 'vda1', devno: '254:1' }, { name: 'vda2', devno: '254:2' }] },
  sdb: { dir: `${ISCSI}/sdb`, devno: '8:16' },
  loop0: { dir: `${VIRTUAL}/loop0`, devno: '7:0', partitions: [{ name: 'loop0p1', devno: '259:0' }] },
  nbd0: { dir: `${VIRTUAL}/nbd0`, devno: '43:0' },
  ublkb0: { dir: `${VIRTUAL}/ublkb0`, devno: '258:0' },
  rbd0: { dir: `${VIRTUAL}/rbd0`, devno: '252:0' },
  drbd0: { dir: `${VIRTUAL}/drbd0`, devno: '147:0' },
  zram0: { dir: `${VIRTUAL}/zram0`, devno: '253:0' },
  nvme1n1: { dir: `${FABRICS}/nvme1n1`, devno: '259:5' },
  'dm-0': { dir: `${VIRTUAL}/dm-0`, devno: '251:0', slaves: ['loop0'] },
  'dm-1': { dir: `${VIRTUAL}/dm-1`, devno: '251:1', slaves: ['vda2'] },
  'dm-2': { dir: `${VIRTUAL}/dm-2`, devno: '251:2', slaves: ['dm-1'] },
  'dm-3': { dir: `${VIRTUAL}/dm-3`, devno: '251:3', slaves: ['dm-1', 'dm-0'] },
  'dm-4': { dir: `${VIRTUAL}/dm-4`, devno: '251:4' },
  md0: { dir: `${VIRTUAL}/md0`, devno: '9:0', slaves: ['vda1', 'vda2'] },
  md1: { dir: `${VIRTUAL}/md1`, devno: '9:1', slaves: ['vda1', 'nbd0'] },
  'dm-5': { dir: `${VIRTUAL}/dm-5`, devno: '251:5', slaves: ['md1'] },
};

function makeSysfs(btrfs: Record<string, string[]> = {}): string {
  const root = fs.mkdtempSync('/tmp/nsmountd-fake-sysfs-');
  const where = new Map<string, string>();
  fs.mkdirSync(path.join(root, 'dev/block'), { recursive: true });
  const link = (devno: string, dir: string) => fs.symlinkSync(path.relative(path.join(root, 'dev/block'), path.join(root, dir)), path.join(root, 'dev/block', devno));
  for (const [name, device] of Object.entries(DEVICES)) {
    fs.mkdirSync(path.join(root, device.dir, 'slaves'), { recursive: true });
    fs.writeFileSync(path.join(root, device.dir, 'dev'), `${device.devno}\n`);
    where.set(name, device.dir);
    link(device.devno, device.dir);
    for (const part of device.partitions ?? []) {
      const dir = path.join(device.dir, part.name);
      fs.mkdirSync(path.join(root, dir), { recursive: true });
      fs.writeFileSync(path.join(root, dir, 'partition'), '1\n');
      where.set(part.name, dir);
      link(part.devno, dir);
    }
  }
  for (const device of Object.values(DEVICES)) {
    for (const slave of device.slaves ?? []) {
      const from = path.join(root, device.dir, 'slaves');
      fs.symlinkSync(path.relative(from, path.join(root, where.get(slave)!)), path.join(from, slave));
    }
  }
  for (const [fsid, members] of Object.entries(btrfs)) {
    const from = path.join(root, 'fs/btrfs', fsid, 'devices');
    fs.mkdirSync(from, { recursive: true });
    for (const member of members) fs.symlinkSync(path.relative(from, path.join(root, where.get(member)!)), path.join(from, member));
  }
  fs.mkdirSync(path.join(root, 'fs/btrfs/features'), { recursive: true });
  return root;
}

let sysfs: string;
test.before(() => {
  sysfs = makeSysfs();
});
test.after.always(() => {
  if (sysfs) fs.rmSync(sysfs, { recursive: true, force: true });
});

const EXT4 = 0xef53n;
const devno = (name: string): [number, number] => {
  const device = DEVICES[name] ?? Object.values(DEVICES).flatMap((d) => d.partitions ?? []).find((p) => p.name === name)!;
  const [major, minor] = device.devno.split(':').map(Number);
  return [major, minor];
};

const ext4On = test.macro({
  exec(t, name: string, mayWait: boolean) {
    const [major, minor] = devno(name);
    t.is(superblockMayWait({ magic: EXT4, major, minor }, new BlockStack({ sysfs })), mayWait);
  },
  title: (_provided, name: string, mayWait: boolean) => `an ext4 on ${name} ${mayWait ? 'may wait for a server' : 'never waits'}`,
});

test(ext4On, 'vda1', false);
test(ext4On, 'vda', false);
test(ext4On, 'zram0', false);
test(ext4On, 'dm-1', false); // device-mapper on a local partition
test(ext4On, 'dm-2', false); // dm on dm on a local partition
test(ext4On, 'md0', false); // md over two local partitions
test(ext4On, 'loop0', true);
test(ext4On, 'loop0p1', true); // a partition of a loop device
test(ext4On, 'nbd0', true);
test(ext4On, 'ublkb0', true);
test(ext4On, 'rbd0', true);
test(ext4On, 'drbd0', true);
test(ext4On, 'sdb', true); // iSCSI
test(ext4On, 'nvme1n1', true); // NVMe over fabrics
test(ext4On, 'dm-0', true); // device-mapper over a loop device
test(ext4On, 'dm-3', true); // dm over a local dm and a dm over loop
test(ext4On, 'dm-4', true); // dm with nothing below it known
test(ext4On, 'md1', true); // md with one member on nbd
test(ext4On, 'dm-5', true); // dm over that md

test('a device sysfs does not know may wait', (t) => {
  t.true(superblockMayWait({ magic: EXT4, major: 200, minor: 7 }, new BlockStack({ sysfs })));
});

test('memory file systems never wait; erofs reading a file (no block device) and unknown file systems may', (t) => {
  const blocks = new BlockStack({ sysfs });
  t.false(superblockMayWait({ magic: 0x01021994n, major: 0, minor: 40 }, blocks), 'tmpfs');
  t.false(superblockMayWait({ magic: 0x858458f6n, major: 0, minor: 41 }, blocks), 'ramfs');
  t.true(superblockMayWait({ magic: 0xe0f5e1e2n, major: 0, minor: 42 }, blocks), 'erofs on a file');
  t.false(superblockMayWait({ magic: 0xe0f5e1e2n, major: 254, minor: 1 }, blocks), 'erofs on vda1');
  t.true(superblockMayWait({ magic: 0x65735546n, major: 0, minor: 43 }, blocks), 'FUSE');
  t.true(superblockMayWait({ magic: 0x6969n, major: 0, minor: 44 }, blocks), 'NFS');
});

const BTRFS = { magic: 0x9123683en, major: 0, minor: 45 };

test('btrfs never waits while every btrfs on the machine is on local devices', (t) => {
  const root = makeSysfs({ 'aaaa-1111': ['vda1'], 'bbbb-2222': ['vda2', 'dm-1'] });
  try {
    t.false(superblockMayWait(BTRFS, new BlockStack({ sysfs: root })));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('btrfs may wait once any btrfs on the machine has a member that may', (t) => {
  const root = makeSysfs({ 'aaaa-1111': ['vda1'], 'bbbb-2222': ['vda2', 'dm-0'] });
  try {
    t.true(superblockMayWait(BTRFS, new BlockStack({ sysfs: root })));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('btrfs with no member device known may wait', (t) => {
  t.true(superblockMayWait(BTRFS, new BlockStack({ sysfs })));
});

test('an answer is kept for its lifetime, then read again', (t) => {
  const root = makeSysfs();
  try {
    let now = 0;
    const blocks = new BlockStack({ sysfs: root, ttlMs: 1000, now: () => now });
    const [major, minor] = devno('dm-1');
    t.false(blocks.deviceMayWait(major, minor));
    // root puts dm-1 on a loop device instead.
    const slaves = path.join(root, DEVICES['dm-1'].dir, 'slaves');
    fs.unlinkSync(path.join(slaves, 'vda2'));
    fs.symlinkSync(path.relative(slaves, path.join(root, DEVICES.loop0.dir)), path.join(slaves, 'loop0'));
    now = 999;
    t.false(blocks.deviceMayWait(major, minor), 'within the lifetime');
    now = 1000;
    t.true(blocks.deviceMayWait(major, minor), 'after it');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
