// Works out what an image holds, using libblkid for every on-disk structure.
// An image is either one bare filesystem, which gets the designator "root"
// (it is the whole tree the caller asked for), or a GPT disk whose partitions
// are named by their Discoverable Partitions Specification type. This module
// only reads; mounting is mount-image.ts.
import { BadImage, NoMountablePartition } from '../errors';
import type { BlkidPartition } from '../native/blkid';
import type { NativeRunner } from '../native/native-runner';
import { fileSystemFor, type FileSystem } from './filesystems';
import { withImageProbes, type ImageProbes } from './probe-fd';
import {
  GPT_FLAG_NO_AUTO,
  GPT_FLAG_READ_ONLY,
  nativeArchitecture,
  partitionTypeOf,
  type Designator,
} from './partition-types';

/** GPTs normally have 128 entry slots; more is refused rather than walked. */
const MAX_GPT_ENTRIES = 128;

export interface DissectedPartition {
  designator: Designator;
  /** GPT entry number (1-based); null for a bare filesystem. */
  partitionNumber: number | null;
  /** DPS architecture of a root/usr partition. */
  architecture: string | null;
  partitionTypeUuid: string | null;
  partitionUuid: string | null;
  partitionLabel: string | null;
  /** Bytes from the start of the image. */
  offset: bigint;
  size: bigint;
  /** Filesystem type as libblkid names it; null when it found none. */
  fstype: string | null;
  uuid: string | null;
  label: string | null;
  /** The GPT read-only attribute (bit 60) asks for read-only mounts. */
  readOnlyFlag: boolean;
  /** The GPT no-auto attribute (bit 63): not mounted unless asked for by name. */
  noAuto: boolean;
}

export interface SkippedPartition {
  partitionNumber: number;
  partitionTypeUuid: string | null;
  reason: string;
}

export interface DissectedImage {
  kind: 'filesystem' | 'gpt';
  sizeBytes: bigint;
  /** One entry per designator, in partition order. */
  partitions: DissectedPartition[];
  /** GPT entries we will not mount, and why. */
  skipped: SkippedPartition[];
}

export interface DissectOptions {
  /** Size of the image; absent: libblkid asks the file or block device. */
  sizeBytes?: bigint;
  /** Where the reads run; absent: on libuv's pool (probe-fd.ts). */
  runner?: NativeRunner;
}

function describe(partition: { partitionNumber: number | null }): string {
  return partition.partitionNumber === null ? 'the image' : `partition ${partition.partitionNumber}`;
}

/**
 * Dissects the image behind `fd` (a regular file or block device). The
 * caller's file offset is left alone: libblkid reads through a private fd.
 * Every read happens on libuv's pool unless `options.runner` says the file
 * cannot wait on a server (probe-fd.ts), so this never blocks the event
 * loop, however long the file's server takes; `signal` stops it between
 * probes once nobody waits for the answer.
 */
export function dissectImage(fd: number, options: DissectOptions = {}, signal?: AbortSignal): Promise<DissectedImage> {
  return withImageProbes(fd, (probes) => dissectThrough(probes, options, signal), { runner: options.runner });
}

async function dissectThrough(probes: ImageProbes, options: DissectOptions, signal?: AbortSignal): Promise<DissectedImage> {
  const whole = await probes.probe({ size: options.sizeBytes, superblocks: true, partitions: true });
  signal?.throwIfAborted();
  const sizeBytes = whole.size;
  if (sizeBytes === 0n) throw new BadImage('the image is empty');
  if (whole.status === 'ambivalent') {
    throw new BadImage('the image carries several conflicting signatures, so it is not clear which one to use');
  }
  if (whole.status === 'nothing') {
    throw new BadImage('no filesystem or partition table recognized (unknown format, truncated or corrupt)');
  }

  const pttype = whole.values.PTTYPE;
  const type = whole.values.TYPE;
  if (pttype === 'gpt') {
    if (type !== undefined) {
      throw new BadImage(`the image holds both a GPT and a ${type} signature at its start`);
    }
    return dissectGpt(probes, sizeBytes, whole.partitionTable?.partitions ?? [], signal);
  }
  if (pttype === 'PMBR') {
    throw new BadImage(
      'the protective MBR announces a GPT but both GPT headers are invalid (damaged, inconsistent, or the image is truncated)',
    );
  }
  if (type === undefined) {
    throw new NoMountablePartition(`only GPT partition tables are supported, the image has a "${pttype}" table`);
  }
  const bare: DissectedPartition = {
    designator: 'root',
    partitionNumber: null,
    architecture: null,
    partitionTypeUuid: null,
    partitionUuid: null,
    partitionLabel: null,
    offset: 0n,
    size: sizeBytes,
    fstype: type,
    uuid: whole.values.UUID ?? null,
    label: whole.values.LABEL ?? null,
    readOnlyFlag: false,
    noAuto: false,
  };
  // A LUKS container or RAID member is recognized, just not mountable.
  fileSystemFor(type, 'the image');
  return { kind: 'filesystem', sizeBytes, partitions: [bare], skipped: [] };
}

/**
 * libblkid already refused headers whose usable area lies outside the image
 * and silently dropped entries outside the usable area; what it passes on is
 * checked here: wrapped or empty ranges, ranges past the end, overlaps and
 * entry numbers beyond any sane table.
 */
function validateGpt(entries: readonly BlkidPartition[], sizeBytes: bigint): void {
  if (entries.length > MAX_GPT_ENTRIES) {
    throw new BadImage(`the GPT lists ${entries.length} partitions; at most ${MAX_GPT_ENTRIES} are supported`);
  }
  for (const entry of entries) {
    if (entry.number > MAX_GPT_ENTRIES) {
      throw new BadImage(
        `GPT entry ${entry.number} is beyond the ${MAX_GPT_ENTRIES} entries supported (absurd table length)`,
      );
    }
    if (entry.size <= 0n) {
      throw new BadImage(`partition ${entry.number} has an empty or negative size (its end precedes its start)`);
    }
    if (entry.offset < 0n || entry.offset + entry.size > sizeBytes) {
      throw new BadImage(
        `partition ${entry.number} (bytes ${entry.offset}..${entry.offset + entry.size}) extends past the end of the image (${sizeBytes} bytes)`,
      );
    }
  }
  const sorted = [...entries].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1];
    if (sorted[i].offset < previous.offset + previous.size) {
      throw new BadImage(`partitions ${previous.number} and ${sorted[i].number} overlap`);
    }
  }
}

async function dissectGpt(probes: ImageProbes, sizeBytes: bigint, entries: readonly BlkidPartition[], signal?: AbortSignal): Promise<DissectedImage> {
  validateGpt(entries, sizeBytes);
  const native = nativeArchitecture();
  const skipped: SkippedPartition[] = [];
  const candidates: (DissectedPartition & { native: boolean })[] = [];
  for (const entry of entries) {
    const known = partitionTypeOf(entry.type);
    if (!known) {
      skipped.push({ partitionNumber: entry.number, partitionTypeUuid: entry.type, reason: 'type not mountable' });
      continue;
    }
    const fs = await probes.probe({ offset: entry.offset, size: entry.size, superblocks: true, partitions: false });
    signal?.throwIfAborted();
    candidates.push({
      designator: known.designator,
      partitionNumber: entry.number,
      architecture: known.architecture ?? null,
      partitionTypeUuid: entry.type,
      partitionUuid: entry.uuid,
      partitionLabel: entry.name,
      offset: entry.offset,
      size: entry.size,
      fstype: fs.status === 'found' ? (fs.values.TYPE ?? null) : null,
      uuid: fs.values.UUID ?? null,
      label: fs.values.LABEL ?? null,
      readOnlyFlag: (entry.flags & GPT_FLAG_READ_ONLY) !== 0n,
      noAuto: (entry.flags & GPT_FLAG_NO_AUTO) !== 0n,
      native: known.architecture === undefined || known.architecture === native,
    });
  }

  // The DPS mounts the first partition of each type; for root and usr a
  // partition of this machine's architecture wins over foreign ones.
  const partitions: DissectedPartition[] = [];
  const chosen = new Map<Designator, DissectedPartition & { native: boolean }>();
  for (const candidate of candidates) {
    const current = chosen.get(candidate.designator);
    if (!current || (candidate.native && !current.native)) chosen.set(candidate.designator, candidate);
  }
  for (const candidate of candidates) {
    const { native: _native, ...partition } = candidate;
    if (chosen.get(candidate.designator) === candidate) {
      partitions.push(partition);
    } else {
      skipped.push({
        partitionNumber: candidate.partitionNumber ?? 0,
        partitionTypeUuid: candidate.partitionTypeUuid,
        reason: `another ${candidate.designator} partition (${chosen.get(candidate.designator)?.partitionNumber}) takes precedence`,
      });
    }
  }
  return { kind: 'gpt', sizeBytes, partitions, skipped };
}

/** The allowlisted filesystem of a dissected partition, or the domain error saying why not. */
export function mountableFileSystem(partition: DissectedPartition): FileSystem {
  if (partition.fstype === null) {
    throw new BadImage(`${describe(partition)} (${partition.designator}) holds no recognizable filesystem`);
  }
  return fileSystemFor(partition.fstype, `${describe(partition)} (${partition.designator})`);
}
