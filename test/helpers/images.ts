// Builds small disk images for image tests with the real mkfs tools, and
// damages GPTs on purpose (fixing the CRCs so libblkid looks past them).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const MiB = 1024 * 1024;

export function tempDir(prefix = 'nsmountd-image-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** True when `command` is on PATH, so tests can say which package is missing. */
export function haveTool(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface ContentOptions {
  /** Relative path -> file content; directories are created as needed. */
  files?: Record<string, string>;
}

function populate(dir: string, options: ContentOptions): string {
  const root = path.join(dir, `content-${process.hrtime.bigint()}`);
  fs.mkdirSync(root);
  for (const [name, text] of Object.entries(options.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), text);
  }
  return root;
}

export interface Ext4Options extends ContentOptions {
  sizeMiB?: number;
  label?: string;
  /** mkfs.ext4 -t: ext2, ext3 or ext4. */
  type?: 'ext2' | 'ext3' | 'ext4';
}

export function makeExt4(dir: string, name: string, options: Ext4Options = {}): string {
  const image = path.join(dir, name);
  fs.writeFileSync(image, '');
  fs.truncateSync(image, (options.sizeMiB ?? 16) * MiB);
  const args = ['-q', '-F', '-t', options.type ?? 'ext4', '-d', populate(dir, options)];
  if (options.label) args.push('-L', options.label);
  run('mkfs.ext4', [...args, image]);
  return image;
}

/** mkfs.erofs 1.5 (bookworm) has no label option. */
export function makeErofs(dir: string, name: string, options: ContentOptions = {}): string {
  const image = path.join(dir, name);
  run('mkfs.erofs', ['--quiet', image, populate(dir, options)]);
  return image;
}

export function makeSquashfs(dir: string, name: string, options: ContentOptions = {}): string {
  const image = path.join(dir, name);
  run('mksquashfs', [populate(dir, options), image, '-quiet', '-noappend', '-no-progress']);
  return image;
}

/** xfs refuses tiny filesystems; the file is sparse, so 300 MiB costs little. */
export function makeXfs(dir: string, name: string, options: { label?: string; sizeMiB?: number } = {}): string {
  const image = path.join(dir, name);
  fs.writeFileSync(image, '');
  fs.truncateSync(image, (options.sizeMiB ?? 300) * MiB);
  run('mkfs.xfs', ['-q', '-f', ...(options.label ? ['-L', options.label] : []), image]);
  return image;
}

export function makeBtrfs(dir: string, name: string, options: ContentOptions & { sizeMiB?: number } = {}): string {
  const image = path.join(dir, name);
  fs.writeFileSync(image, '');
  fs.truncateSync(image, (options.sizeMiB ?? 128) * MiB);
  run('mkfs.btrfs', ['-q', '-f', '--rootdir', populate(dir, options), image]);
  return image;
}

export const TYPE_ROOT_X86_64 = '4f68bce3-e8cd-4db1-96e7-fbcaf984b709';
export const TYPE_ROOT_ARM64 = 'b921b045-1df0-41c3-af44-4c6f280d3fae';
export const TYPE_HOME = '933ac7e1-2eb4-4f13-b844-0e14e2aef915';
export const TYPE_SWAP = '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f';
export const TYPE_LINUX_DATA = '0fc63daf-8483-4772-8e79-3d69d8477de4';

export interface GptPartitionSpec {
  type: string;
  sizeMiB: number;
  name?: string;
  /** Filesystem image copied into the partition (must fit). */
  content?: string;
  /** GPT attribute bits as sfdisk spells them, e.g. "60" or "63". */
  attributeBits?: number[];
}

export interface GptOptions {
  /** Number of entries in the table (sfdisk table-length), 128 by default. */
  tableLength?: number;
}

export interface GptLayout {
  image: string;
  partitions: { number: number; offset: bigint; size: bigint; type: string }[];
}

/** Partitions start at 1 MiB and follow each other, 1 MiB aligned. */
export function makeGpt(dir: string, name: string, partitions: GptPartitionSpec[], options: GptOptions = {}): GptLayout {
  const image = path.join(dir, name);
  const total = 2 + partitions.reduce((sum, p) => sum + p.sizeMiB, 0);
  fs.writeFileSync(image, '');
  fs.truncateSync(image, total * MiB);
  let offset = 1;
  const layout: GptLayout['partitions'] = [];
  const lines = ['label: gpt', 'unit: sectors'];
  if (options.tableLength) lines.push(`table-length: ${options.tableLength}`);
  partitions.forEach((p, i) => {
    const attrs = p.attributeBits?.length ? `, attrs="${p.attributeBits.map((b) => `GUID:${b}`).join(' ')}"` : '';
    lines.push(`start=${offset * 2048}, size=${p.sizeMiB * 2048}, type=${p.type}, name="${p.name ?? `p${i + 1}`}"${attrs}`);
    layout.push({ number: i + 1, offset: BigInt(offset * MiB), size: BigInt(p.sizeMiB * MiB), type: p.type });
    offset += p.sizeMiB;
  });
  execFileSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', image], {
    input: lines.join('\n') + '\n',
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const fd = fs.openSync(image, 'r+');
  try {
    partitions.forEach((p, i) => {
      if (!p.content) return;
      const data = fs.readFileSync(p.content);
      if (data.length > p.sizeMiB * MiB) throw new Error(`${p.content} does not fit partition ${i + 1}`);
      fs.writeSync(fd, data, 0, data.length, Number(layout[i].offset));
    });
  } finally {
    fs.closeSync(fd);
  }
  return { image, partitions: layout };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, as GPT uses it). */
export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const SECTOR = 512;

/** Primary GPT header fields by byte offset inside LBA 1 (UEFI spec 5.3.2). */
export const GPT_HEADER = {
  lastUsableLba: 48,
  entriesLba: 72,
  entryCount: 80,
  entrySize: 84,
} as const;
/** Fields inside one partition entry. */
export const GPT_ENTRY = { startLba: 32, endLba: 40 } as const;


export interface GptEdit {
  /** Changes to the header (LBA 1): offset -> little-endian value and width. */
  header?: { offset: number; value: bigint; bytes: 4 | 8 }[];
  /** Apply the header changes to the backup header too, so libblkid cannot fall back to it. */
  alsoBackup?: boolean;
  /** Changes to entries of the primary array: 0-based entry index, field offset, value. */
  entries?: { index: number; offset: number; value: bigint }[];
  /** Moves primary entry `from` to slot `to` (leaving `from` empty). */
  moveEntry?: { from: number; to: number };
}

const ENTRY_SIZE = 128;

/** Rewrites one header (at `lba`) and recomputes its entry-array and header CRCs. */
function rewriteHeader(fd: number, lba: number, changes: NonNullable<GptEdit['header']>): void {
  const header = Buffer.alloc(SECTOR);
  fs.readSync(fd, header, 0, SECTOR, lba * SECTOR);
  for (const h of changes) {
    if (h.bytes === 8) header.writeBigUInt64LE(h.value, h.offset);
    else header.writeUInt32LE(Number(h.value), h.offset);
  }
  const entriesLba = Number(header.readBigUInt64LE(GPT_HEADER.entriesLba));
  // The CRC covers entryCount * entrySize bytes as the (edited) header
  // declares, capped at what the file holds.
  const arrayBytes = Math.min(
    header.readUInt32LE(GPT_HEADER.entryCount) * header.readUInt32LE(GPT_HEADER.entrySize),
    fs.fstatSync(fd).size - entriesLba * SECTOR,
  );
  const entries = Buffer.alloc(Math.max(0, arrayBytes));
  fs.readSync(fd, entries, 0, entries.length, entriesLba * SECTOR);
  header.writeUInt32LE(crc32(entries), 88);
  header.writeUInt32LE(0, 16);
  header.writeUInt32LE(crc32(header.subarray(0, header.readUInt32LE(12))), 16);
  fs.writeSync(fd, header, 0, SECTOR, lba * SECTOR);
}

/**
 * Damages the GPT on purpose while keeping every CRC right, so the damage is
 * semantic and libblkid has to judge it rather than stop at a checksum.
 */
export function editGpt(image: string, edit: GptEdit): void {
  const fd = fs.openSync(image, 'r+');
  try {
    const primary = Buffer.alloc(SECTOR);
    fs.readSync(fd, primary, 0, SECTOR, SECTOR);
    const entriesLba = Number(primary.readBigUInt64LE(GPT_HEADER.entriesLba));
    const backupLba = Number(primary.readBigUInt64LE(32));
    const entryAt = (index: number) => entriesLba * SECTOR + index * ENTRY_SIZE;
    for (const e of edit.entries ?? []) {
      const buf = Buffer.alloc(8);
      buf.writeBigUInt64LE(e.value);
      fs.writeSync(fd, buf, 0, 8, entryAt(e.index) + e.offset);
    }
    if (edit.moveEntry) {
      const entry = Buffer.alloc(ENTRY_SIZE);
      fs.readSync(fd, entry, 0, ENTRY_SIZE, entryAt(edit.moveEntry.from));
      fs.writeSync(fd, entry, 0, ENTRY_SIZE, entryAt(edit.moveEntry.to));
      fs.writeSync(fd, Buffer.alloc(ENTRY_SIZE), 0, ENTRY_SIZE, entryAt(edit.moveEntry.from));
    }
    rewriteHeader(fd, 1, edit.header ?? []);
    if (edit.alsoBackup) rewriteHeader(fd, backupLba, edit.header ?? []);
  } finally {
    fs.closeSync(fd);
  }
}

/** Loop devices whose backing file lies under `dir`: "loopN -> file". */
export function loopDevicesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const name of fs.readdirSync('/sys/block')) {
    if (!name.startsWith('loop')) continue;
    let backing: string;
    try {
      backing = fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
    } catch {
      continue; // not configured
    }
    if (backing.startsWith(dir + '/')) found.push(`${name} -> ${backing}`);
  }
  return found.sort();
}

/**
 * Autoclear runs when the last reference goes, which can trail close() by a
 * moment; poll briefly before declaring a leak.
 */
export async function waitForNoLoopDevicesUnder(dir: string, timeoutMs = 10000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = loopDevicesUnder(dir);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
