// libblkid through koffi: libblkid-dev is not installed, so the few functions
// used here are declared by hand. Everything that reads on-disk structures
// (superblocks, GPT) stays in libblkid; this module only copies its answers
// into plain objects and always frees the probe.
import { libblkid, koffi, nsm_blkid_probe } from './bindings';
import { ON_THE_POOL, type NativeRunner } from './native-runner';
import { SystemError } from '../errors';
import { Errno } from './errno';

// From blkid.h (util-linux 2.38).
const BLKID_SUBLKS_LABEL = 1 << 1;
const BLKID_SUBLKS_UUID = 1 << 3;
const BLKID_SUBLKS_TYPE = 1 << 5;
const BLKID_SUBLKS_USAGE = 1 << 7;
const BLKID_SUBLKS_VERSION = 1 << 8;
const BLKID_PARTS_ENTRY_DETAILS = 1 << 2;

type Fn = ReturnType<ReturnType<typeof libblkid>['func']>;

interface Blkid {
  newProbe: Fn;
  freeProbe: Fn;
  setDevice: Fn;
  getSize: Fn;
  getSectorSize: Fn;
  enableSuperblocks: Fn;
  setSuperblocksFlags: Fn;
  enablePartitions: Fn;
  setPartitionsFlags: Fn;
  doSafeprobe: Fn;
  lookupValue: Fn;
  getPartitions: Fn;
  numofPartitions: Fn;
  getPartition: Fn;
  getTable: Fn;
  parttableGetType: Fn;
  parttableGetId: Fn;
  partitionGetStart: Fn;
  partitionGetSize: Fn;
  partitionGetPartno: Fn;
  partitionGetTypeString: Fn;
  partitionGetUuid: Fn;
  partitionGetName: Fn;
  partitionGetFlags: Fn;
}

let bound: Blkid | undefined;
function blkid(): Blkid {
  if (bound) return bound;
  const lib = libblkid();
  koffi.pointer('blkid_probe', koffi.opaque());
  koffi.pointer('blkid_partlist', koffi.opaque());
  koffi.pointer('blkid_partition', koffi.opaque());
  koffi.pointer('blkid_parttable', koffi.opaque());
  bound = {
    newProbe: lib.func('blkid_probe blkid_new_probe(void)'),
    freeProbe: lib.func('void blkid_free_probe(blkid_probe pr)'),
    setDevice: lib.func('int blkid_probe_set_device(blkid_probe pr, int fd, int64_t off, int64_t size)'),
    getSize: lib.func('int64_t blkid_probe_get_size(blkid_probe pr)'),
    getSectorSize: lib.func('unsigned int blkid_probe_get_sectorsize(blkid_probe pr)'),
    enableSuperblocks: lib.func('int blkid_probe_enable_superblocks(blkid_probe pr, int enable)'),
    setSuperblocksFlags: lib.func('int blkid_probe_set_superblocks_flags(blkid_probe pr, int flags)'),
    enablePartitions: lib.func('int blkid_probe_enable_partitions(blkid_probe pr, int enable)'),
    setPartitionsFlags: lib.func('int blkid_probe_set_partitions_flags(blkid_probe pr, int flags)'),
    doSafeprobe: lib.func('int blkid_do_safeprobe(blkid_probe pr)'),
    lookupValue: lib.func(
      'int blkid_probe_lookup_value(blkid_probe pr, const char *name, _Out_ const char **data, _Out_ size_t *len)',
    ),
    getPartitions: lib.func('blkid_partlist blkid_probe_get_partitions(blkid_probe pr)'),
    numofPartitions: lib.func('int blkid_partlist_numof_partitions(blkid_partlist ls)'),
    getPartition: lib.func('blkid_partition blkid_partlist_get_partition(blkid_partlist ls, int n)'),
    getTable: lib.func('blkid_parttable blkid_partlist_get_table(blkid_partlist ls)'),
    parttableGetType: lib.func('const char *blkid_parttable_get_type(blkid_parttable tab)'),
    parttableGetId: lib.func('const char *blkid_parttable_get_id(blkid_parttable tab)'),
    partitionGetStart: lib.func('int64_t blkid_partition_get_start(blkid_partition par)'),
    partitionGetSize: lib.func('int64_t blkid_partition_get_size(blkid_partition par)'),
    partitionGetPartno: lib.func('int blkid_partition_get_partno(blkid_partition par)'),
    partitionGetTypeString: lib.func('const char *blkid_partition_get_type_string(blkid_partition par)'),
    partitionGetUuid: lib.func('const char *blkid_partition_get_uuid(blkid_partition par)'),
    partitionGetName: lib.func('const char *blkid_partition_get_name(blkid_partition par)'),
    partitionGetFlags: lib.func('uint64_t blkid_partition_get_flags(blkid_partition par)'),
  };
  return bound;
}

export interface BlkidPartition {
  /** 1-based number as libblkid counts it (GPT entry index + 1). */
  number: number;
  /** Bytes from the start of the probed area. */
  offset: bigint;
  size: bigint;
  /** Lower-case type UUID for GPT. */
  type: string | null;
  uuid: string | null;
  name: string | null;
  /** GPT attribute bits. */
  flags: bigint;
}

export interface BlkidPartitionTable {
  /** "gpt", "dos", "PMBR", ... as libblkid names it. */
  type: string;
  id: string | null;
  partitions: BlkidPartition[];
}

export interface ProbeOptions {
  offset?: bigint;
  /** 0n or absent: up to the end of the file or device. */
  size?: bigint;
  /** Look for filesystems and other superblocks (TYPE, UUID, LABEL, USAGE). */
  superblocks: boolean;
  /** Look for a partition table and list its entries. */
  partitions: boolean;
}

export interface ProbeResult {
  /**
   * found: one unambiguous answer; nothing: no known signature; ambivalent:
   * several signatures that exclude each other (libblkid refuses to choose).
   */
  status: 'found' | 'nothing' | 'ambivalent';
  /** NAME=value pairs libblkid reported (TYPE, UUID, LABEL, USAGE, PTTYPE, ...). */
  values: Record<string, string>;
  partitionTable: BlkidPartitionTable | null;
  /** Size of the probed area as libblkid sees it, bytes. */
  size: bigint;
  sectorSize: number;
}

const VALUE_NAMES = ['TYPE', 'SEC_TYPE', 'UUID', 'UUID_SUB', 'LABEL', 'USAGE', 'VERSION', 'PTTYPE', 'PTUUID'];

function toBigInt(value: number | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(value);
}

/** What a probe reads: `fd` itself, or (reopen) a private fd of the same file opened by the probe. */
export interface ProbeSource {
  fd: number;
  reopen: boolean;
  /** Where the part that touches the file runs; absent: on libuv's pool. */
  runner?: NativeRunner;
}

/** A probe that failed: `reopened` says whether the private fd was opened (then it is in `privateFd`). */
export class ProbeError extends SystemError {
  constructor(
    errno: number,
    readonly reopened: boolean,
  ) {
    super(errno, reopened ? 'blkid_do_safeprobe' : 'reopen the image for probing', { task: 'read the image' });
  }
}

/**
 * Probes once. The part that touches the file (reopening it, stating it,
 * reading it) is one native call (native/probe.c), run by
 * `source.runner`: on libuv's pool unless the file cannot wait on a
 * FUSE or NFS server that never answers (native-runner.ts). With `source.reopen`, `onPrivateFd` receives the
 * private fd as soon as it exists, failure or not: it is the caller's to
 * close.
 */
export async function probe(source: ProbeSource, options: ProbeOptions, onPrivateFd?: (fd: number) => void): Promise<ProbeResult> {
  const b = blkid();
  const pr = b.newProbe();
  if (!pr) throw new SystemError(Errno.ENOMEM, 'blkid_new_probe');
  try {
    // libblkid keeps what is enabled across blkid_probe_set_device.
    b.enableSuperblocks(pr, options.superblocks ? 1 : 0);
    if (options.superblocks) {
      b.setSuperblocksFlags(
        pr,
        BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE | BLKID_SUBLKS_VERSION,
      );
    }
    b.enablePartitions(pr, options.partitions ? 1 : 0);
    if (options.partitions) b.setPartitionsFlags(pr, BLKID_PARTS_ENTRY_DETAILS);

    const privateFd: [number] = [-1];
    const rc = await (source.runner ?? ON_THE_POOL).call(nsm_blkid_probe, pr, source.fd, options.offset ?? 0n, options.size ?? 0n, source.reopen ? 1 : 0, privateFd);
    if (privateFd[0] >= 0) onPrivateFd?.(privateFd[0]);
    if (rc < 0) throw new ProbeError(-rc, !source.reopen || privateFd[0] >= 0);
    const result: ProbeResult = {
      status: rc === 0 ? 'found' : rc === 1 ? 'nothing' : 'ambivalent',
      values: {},
      partitionTable: null,
      size: toBigInt(b.getSize(pr)),
      sectorSize: b.getSectorSize(pr),
    };
    if (rc !== 0) return result;

    for (const name of VALUE_NAMES) {
      const data: (string | null)[] = [null];
      const len = [0];
      if (b.lookupValue(pr, name, data, len) === 0 && data[0] !== null) result.values[name] = data[0];
    }
    if (options.partitions && result.values.PTTYPE !== undefined) {
      result.partitionTable = readPartitionTable(b, pr);
    }
    return result;
  } finally {
    b.freeProbe(pr);
  }
}

function readPartitionTable(b: Blkid, pr: unknown): BlkidPartitionTable | null {
  const list = b.getPartitions(pr);
  if (!list) return null;
  const table = b.getTable(list);
  const partitions: BlkidPartition[] = [];
  const count: number = b.numofPartitions(list);
  for (let i = 0; i < count; i++) {
    const par = b.getPartition(list, i);
    if (!par) continue;
    const type: string | null = b.partitionGetTypeString(par);
    const uuid: string | null = b.partitionGetUuid(par);
    partitions.push({
      number: b.partitionGetPartno(par),
      // libblkid counts in 512-byte sectors whatever the device's sector size.
      offset: toBigInt(b.partitionGetStart(par)) * 512n,
      size: toBigInt(b.partitionGetSize(par)) * 512n,
      type: type ? type.toLowerCase() : null,
      uuid: uuid ? uuid.toLowerCase() : null,
      name: b.partitionGetName(par),
      flags: toBigInt(b.partitionGetFlags(par)),
    });
  }
  return {
    type: table ? b.parttableGetType(table) : 'unknown',
    id: table ? b.parttableGetId(table) : null,
    partitions,
  };
}
