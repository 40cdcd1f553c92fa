// GPT partition type UUIDs from the Discoverable Partitions Specification
// (uapi-group.org/specifications/specs/discoverable_partitions_specification).
// Verity, verity-signature, swap and per-user-home types are deliberately
// absent: this service has no dm-verity and never mounts them, so they are
// skipped like any unknown type.
import os from 'node:os';

export type Designator = 'root' | 'usr' | 'home' | 'srv' | 'var' | 'tmp' | 'esp' | 'xbootldr' | 'data';

export const DESIGNATORS: readonly Designator[] = ['root', 'usr', 'home', 'srv', 'var', 'tmp', 'esp', 'xbootldr', 'data'];

export interface PartitionType {
  designator: Designator;
  /** DPS architecture name for root and usr, absent for the generic types. */
  architecture?: string;
}

// [architecture, root type, usr type]
const PER_ARCHITECTURE: readonly [string, string, string][] = [
  ['alpha', '6523f8ae-3eb1-4e2a-a05a-18b695ae656f', 'e18cf08c-33ec-4c0d-8246-c6c6fb3da024'],
  ['arc', 'd27f46ed-2919-4cb8-bd25-9531f3c16534', '7978a683-6316-4922-bbee-38bff5a2fecc'],
  ['arm', '69dad710-2ce4-4e3c-b16c-21a1d49abed3', '7d0359a3-02b3-4f0a-865c-654403e70625'],
  ['arm64', 'b921b045-1df0-41c3-af44-4c6f280d3fae', 'b0e01050-ee5f-4390-949a-9101b17104e9'],
  ['ia64', '993d8d3d-f80e-4225-855a-9daf8ed7ea97', '4301d2a6-4e3b-4b2a-bb94-9e0b2c4225ea'],
  ['loongarch64', '77055800-792c-4f94-b39a-98c91b762bb6', 'e611c702-575c-4cbe-9a46-434fa0bf7e3f'],
  ['m68k', '0cf191c8-3b54-433a-b715-68c6fa4086de', 'a639b810-a02d-44bc-b579-d23e7bffdede'],
  ['mips', 'e9434544-6e2c-47cc-bae2-12d6deafb44c', '773b2abc-2a99-4398-8bf5-03baac40d02b'],
  ['mips64', 'd113af76-80ef-41b4-bdb6-0cff4d3d4a25', '57e13958-7331-4365-8e6e-35eeee17c61b'],
  ['mips-le', '37c58c8a-d913-4156-a25f-48b1b64e07f0', '0f4868e9-9952-4706-979f-3ed3a473e947'],
  ['mips64-le', '700bda43-7a34-4507-b179-eeb93d7a7ca3', 'c97c1f32-ba06-40b4-9f22-236061b08aa8'],
  ['parisc', '1aacdb3b-5444-4138-bd9e-e5c2239b2346', 'dc4a4480-6917-4262-a4ec-db9384949f25'],
  ['ppc', '1de3f1ef-fa98-47b5-8dcd-4a860a654d78', '7d14fec5-cc71-415d-9d6c-06bf0b3c3eaf'],
  ['ppc64', '912ade1d-a839-4913-8964-a10eee08fbd2', '2c9739e2-f068-46b3-9fd0-01c5a9afbcca'],
  ['ppc64-le', 'c31c45e6-3f39-412e-80fb-4809c4980599', '15bb03af-77e7-4d4a-b12b-c0d084f7491c'],
  ['riscv32', '60d5a7fe-8e7d-435c-b714-3dd8162144e1', 'b933fb22-5c3f-4f91-af90-e2bb0fa50702'],
  ['riscv64', '72ec70a6-cf74-40e6-bd49-4bda08e8f224', 'beaec34b-8442-439b-a40b-984381ed097d'],
  ['s390', '08a7acea-624c-4a20-91e8-6e0fa67d23f9', 'cd0f869b-d0fb-4ca0-b141-9ea87cc78d66'],
  ['s390x', '5eead9a9-fe09-4a1e-a1d7-520d00531306', '8a4f5770-50aa-4ed3-874a-99b710db6fea'],
  ['sparc64', 'f7b4d167-1e51-42a9-8151-ec96c2e99478', 'db8ce399-787c-460a-80e3-69104c1ce375'],
  ['sh4', '7b8f86b1-397a-4e1c-9eb0-850983baedc4', '0b6d8f08-1548-4183-a6fa-22fe95bc5422'],
  ['tilegx', 'c50cdd70-3862-4cc3-90e1-809a8c93ee2c', '55497029-c7c1-44cc-aa39-815ed1558630'],
  ['x86', '44479540-f297-41b2-9af7-d131d5f0458a', '75250d76-8cc6-458e-bd66-bd47cc81a812'],
  ['x86-64', '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', '8484680c-9521-48c6-9c11-b0720656f69e'],
];

const GENERIC: readonly [Designator, string][] = [
  ['home', '933ac7e1-2eb4-4f13-b844-0e14e2aef915'],
  ['srv', '3b8f8425-20e0-4f3b-907f-1a25a76f98e8'],
  ['var', '4d21b016-b534-45c2-a9fb-5c16e091fd2d'],
  ['tmp', '7ec6f557-3bc5-4aca-b293-16ef5df639d1'],
  ['esp', 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b'],
  ['xbootldr', 'bc13c2ff-59e6-4262-a352-b275fd6f7172'],
  ['data', '0fc63daf-8483-4772-8e79-3d69d8477de4'],
];

export const PARTITION_TYPES: ReadonlyMap<string, PartitionType> = new Map<string, PartitionType>([
  ...PER_ARCHITECTURE.flatMap(([architecture, root, usr]): [string, PartitionType][] => [
    [root, { designator: 'root', architecture }],
    [usr, { designator: 'usr', architecture }],
  ]),
  ...GENERIC.map(([designator, uuid]): [string, PartitionType] => [uuid, { designator }]),
]);

/** Type UUID (any case) to its designator, or undefined for types we skip. */
export function partitionTypeOf(typeUuid: string | null): PartitionType | undefined {
  return typeUuid ? PARTITION_TYPES.get(typeUuid.toLowerCase()) : undefined;
}

/** The DPS architecture of this process, so native root/usr partitions win over foreign ones. */
export function nativeArchitecture(arch: string = process.arch): string | undefined {
  const map: Record<string, string> = {
    x64: 'x86-64',
    ia32: 'x86',
    arm: 'arm',
    arm64: 'arm64',
    loong64: 'loongarch64',
    mips: 'mips',
    mipsel: 'mips-le',
    ppc: 'ppc',
    ppc64: os.endianness() === 'LE' ? 'ppc64-le' : 'ppc64',
    riscv64: 'riscv64',
    s390: 's390',
    s390x: 's390x',
  };
  return map[arch];
}


/** GPT attribute bits the DPS defines. */
export const GPT_FLAG_NO_AUTO = 1n << 63n;
export const GPT_FLAG_READ_ONLY = 1n << 60n;
