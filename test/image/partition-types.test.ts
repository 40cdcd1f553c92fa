import test, { type ExecutionContext } from 'ava';
import { PARTITION_TYPES, nativeArchitecture, partitionTypeOf } from '../../src/image/partition-types';

const maps = test.macro({
  exec(t: ExecutionContext, uuid: string, designator: string | undefined, architecture?: string) {
    const type = partitionTypeOf(uuid);
    t.is(type?.designator as string | undefined, designator);
    t.is(type?.architecture, architecture);
  },
  title: (provided, uuid: string, designator?: string) => `${uuid} -> ${designator ?? 'skipped'} ${provided ?? ''}`,
});

test(maps, '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709', 'root', 'x86-64');
test(maps, 'b921b045-1df0-41c3-af44-4c6f280d3fae', 'root', 'arm64');
test(maps, '8484680c-9521-48c6-9c11-b0720656f69e', 'usr', 'x86-64');
test(maps, '72ec70a6-cf74-40e6-bd49-4bda08e8f224', 'root', 'riscv64');
test(maps, '933ac7e1-2eb4-4f13-b844-0e14e2aef915', 'home');
test(maps, 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', 'esp');
test(maps, 'bc13c2ff-59e6-4262-a352-b275fd6f7172', 'xbootldr');
test(maps, '0fc63daf-8483-4772-8e79-3d69d8477de4', 'data');
// swap and verity partitions are never mounted
test(maps, '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f', undefined);
test(maps, '2c7357ed-ebd2-46d9-aec1-23d437ec2bf5', undefined);

test('every DPS architecture has a root and a usr type', (t) => {
  const architectures = new Map<string, Set<string>>();
  for (const type of PARTITION_TYPES.values()) {
    if (!type.architecture) continue;
    const set = architectures.get(type.architecture) ?? new Set();
    set.add(type.designator);
    architectures.set(type.architecture, set);
  }
  t.is(architectures.size, 24);
  for (const [architecture, designators] of architectures) t.deepEqual([...designators].sort(), ['root', 'usr'], architecture);
});

test('node architectures map to DPS names', (t) => {
  t.is(nativeArchitecture('x64'), 'x86-64');
  t.is(nativeArchitecture('arm64'), 'arm64');
  t.is(nativeArchitecture('riscv64'), 'riscv64');
});
