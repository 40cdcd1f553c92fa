// Which filesystems an image may contain and which mount options a caller may
// ask for. Everything not listed is refused: filesystem drivers parse
// attacker-controlled images, so the set stays small, and options are
// checked one by one rather than passed through.
import { InvalidArgument, UnsupportedFileSystem } from '../errors';

const ARGUMENT = 'options.MountOptions';

/** Checks one option value; returns a reason when it is refused. */
type ValueCheck = (value: string) => string | undefined;

interface OptionSpec {
  /** undefined: a flag without value; otherwise the value check. */
  value?: ValueCheck;
  /** Only valid on read-only mounts (e.g. xfs nouuid). */
  readOnlyOnly?: boolean;
}

export interface FileSystem {
  /** Name as libblkid reports it. */
  name: string;
  /** Driver passed to fsopen (ext2/ext3 go through ext4). */
  driver: string;
  /** The driver never writes (squashfs, erofs): always mounted read-only. */
  alwaysReadOnly: boolean;
  options: Readonly<Record<string, OptionSpec>>;
  /** Options we add whatever the caller asked, after the caller's. */
  forcedOptions(mount: { readOnly: boolean }): string[];
}

function oneOf(...allowed: string[]): ValueCheck {
  return (value) => (allowed.includes(value) ? undefined : `must be one of ${allowed.join(', ')}`);
}

function integer(min: number, max: number): ValueCheck {
  return (value) =>
    /^[0-9]{1,9}$/.test(value) && Number(value) >= min && Number(value) <= max
      ? undefined
      : `must be an integer from ${min} to ${max}`;
}

function octalMask(value: string): string | undefined {
  return /^0?[0-7]{1,3}$/.test(value) ? undefined : 'must be an octal mask such as 022';
}

// A btrfs subvolume path: resolved inside the filesystem, so only its
// characters matter here.
function subvolumePath(value: string): string | undefined {
  return /^[A-Za-z0-9._@+/-]{1,255}$/.test(value) ? undefined : 'must be a subvolume path of [A-Za-z0-9._@+/-]';
}

const btrfsCompress: ValueCheck = (value) => {
  const match = /^(zstd|zlib|lzo|no)(?::([0-9]{1,2}))?$/.exec(value);
  if (!match) return 'must be zstd, zlib, lzo or no, optionally with :LEVEL';
  const level = match[2] === undefined ? undefined : Number(match[2]);
  if (level === undefined) return undefined;
  if (match[1] === 'zstd' && level >= 1 && level <= 15) return undefined;
  if (match[1] === 'zlib' && level >= 1 && level <= 9) return undefined;
  return `level ${level} is not valid for ${match[1]}`;
};

const ext4Options: Record<string, OptionSpec> = {
  acl: {},
  noacl: {},
  user_xattr: {},
  delalloc: {},
  nodelalloc: {},
  commit: { value: integer(1, 300) },
  data: { value: oneOf('ordered', 'writeback', 'journal') },
  // The only errors= behaviour allowed; a superblock asking for panic must not
  // get to panic the host, so remount-ro is also forced.
  errors: { value: oneOf('remount-ro') },
};

// Journal replay writes to the device even for a read-only mount, which a
// read-only loop device refuses: read-only mounts skip it.
const ext4: Omit<FileSystem, 'name'> = {
  driver: 'ext4',
  alwaysReadOnly: false,
  options: ext4Options,
  forcedOptions: ({ readOnly }) => (readOnly ? ['errors=remount-ro', 'norecovery'] : ['errors=remount-ro']),
};

export const FILESYSTEMS: ReadonlyMap<string, FileSystem> = new Map(
  (
    [
      { name: 'ext4', ...ext4 },
      { name: 'ext3', ...ext4 },
      { name: 'ext2', ...ext4 },
      {
        name: 'xfs',
        driver: 'xfs',
        alwaysReadOnly: false,
        options: { inode32: {}, inode64: {}, nouuid: { readOnlyOnly: true } },
        forcedOptions: ({ readOnly }) => (readOnly ? ['norecovery'] : []),
      },
      {
        name: 'btrfs',
        driver: 'btrfs',
        alwaysReadOnly: false,
        options: {
          compress: { value: btrfsCompress },
          subvol: { value: subvolumePath },
          subvolid: { value: integer(5, 999999999) },
          commit: { value: integer(1, 300) },
          ssd: {},
          nossd: {},
        },
        forcedOptions: ({ readOnly }) => (readOnly ? ['rescue=nologreplay'] : []),
      },
      {
        name: 'erofs',
        driver: 'erofs',
        alwaysReadOnly: true,
        options: { acl: {}, noacl: {}, user_xattr: {}, nouser_xattr: {} },
        forcedOptions: () => [],
      },
      { name: 'squashfs', driver: 'squashfs', alwaysReadOnly: true, options: {}, forcedOptions: () => [] },
      // Allowlisted although this kernel has no vfat driver: ESPs are vfat, and
      // a kernel that has it should mount them.
      {
        name: 'vfat',
        driver: 'vfat',
        alwaysReadOnly: false,
        options: {
          utf8: {},
          flush: {},
          umask: { value: octalMask },
          dmask: { value: octalMask },
          fmask: { value: octalMask },
          shortname: { value: oneOf('lower', 'win95', 'winnt', 'mixed') },
        },
        forcedOptions: () => [],
      },
    ] satisfies FileSystem[]
  ).map((fs) => [fs.name, fs]),
);

/** The allowlisted filesystem named `type` (libblkid TYPE), or UnsupportedFileSystem. */
export function fileSystemFor(type: string, where: string): FileSystem {
  const fs = FILESYSTEMS.get(type);
  if (!fs) {
    throw new UnsupportedFileSystem(
      `${where} holds ${type}, which is not supported (supported: ${[...FILESYSTEMS.keys()].join(', ')})`,
    );
  }
  return fs;
}

/** One "key" or "key=value" from MountOptions, syntax-checked only. */
export interface MountOption {
  key: string;
  value?: string;
}

/** Options that are mount attributes, not filesystem parameters. */
export interface MountAttributeOptions {
  noexec: boolean;
  atime?: 'noatime' | 'relatime' | 'strictatime';
  nodiratime: boolean;
}

// fsconfig() refuses per-mount flags: these become mount attributes.
const ATTRIBUTE_OPTIONS = new Set(['noatime', 'relatime', 'strictatime', 'nodiratime', 'noexec']);
// Superblock flags the VFS itself understands for every filesystem.
const COMMON_SB_OPTIONS: Record<string, OptionSpec> = { lazytime: {}, nolazytime: {} };

/**
 * Splits the comma-separated MountOptions text. Each entry is checked on its
 * own, so a comma can never smuggle a second option into a value; control
 * characters and duplicates are refused.
 */
export function parseMountOptions(text: string): MountOption[] {
  if (text === '') return [];
  if (/[\0-\x1f\x7f]/.test(text)) throw new InvalidArgument(ARGUMENT, 'control characters (newline, NUL, ...) are not allowed');
  if (text.length > 1024) throw new InvalidArgument(ARGUMENT, 'longer than 1024 characters');
  const seen = new Set<string>();
  return text.split(',').map((entry) => {
    if (entry === '') throw new InvalidArgument(ARGUMENT, 'empty option (stray comma)');
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (!/^[a-z][a-z0-9_]*$/.test(key)) throw new InvalidArgument(ARGUMENT, `malformed option name ${JSON.stringify(key)}`);
    if (key === 'ro' || key === 'rw') throw new InvalidArgument(ARGUMENT, `"${key}" is not a mount option here; use the ReadOnly option`);
    if (seen.has(key)) throw new InvalidArgument(ARGUMENT, `option "${key}" given twice`);
    seen.add(key);
    return eq < 0 ? { key } : { key, value: entry.slice(eq + 1) };
  });
}

export interface ResolvedMountOptions {
  /** Validated fsconfig parameters, caller's first, then forced ones. */
  fsOptions: string[];
  attributes: MountAttributeOptions;
}

/** Checks parsed options against `fs` and adds the forced ones. */
export function resolveMountOptions(
  options: readonly MountOption[],
  fs: FileSystem,
  mount: { readOnly: boolean },
): ResolvedMountOptions {
  const attributes: MountAttributeOptions = { noexec: false, nodiratime: false };
  const fsOptions: string[] = [];
  const forced = fs.forcedOptions(mount);
  const forcedKeys = new Set(forced.map((option) => option.split('=')[0]));
  for (const { key, value } of options) {
    if (ATTRIBUTE_OPTIONS.has(key)) {
      if (value !== undefined) throw new InvalidArgument(ARGUMENT, `"${key}" takes no value`);
      if (key === 'noexec') attributes.noexec = true;
      else if (key === 'nodiratime') attributes.nodiratime = true;
      else if (attributes.atime) throw new InvalidArgument(ARGUMENT, `"${key}" conflicts with "${attributes.atime}"`);
      else attributes.atime = key as MountAttributeOptions['atime'];
      continue;
    }
    const spec = fs.options[key] ?? COMMON_SB_OPTIONS[key];
    if (!spec) {
      const allowed = [...ATTRIBUTE_OPTIONS, ...Object.keys(COMMON_SB_OPTIONS), ...Object.keys(fs.options)];
      throw new InvalidArgument(ARGUMENT, `"${key}" is not allowed for ${fs.name} (allowed: ${allowed.join(', ')})`);
    }
    if (spec.readOnlyOnly && !mount.readOnly) throw new InvalidArgument(ARGUMENT, `"${key}" needs a read-only mount`);
    if (spec.value === undefined) {
      if (value !== undefined) throw new InvalidArgument(ARGUMENT, `"${key}" takes no value`);
      fsOptions.push(key);
      continue;
    }
    if (value === undefined) throw new InvalidArgument(ARGUMENT, `"${key}" needs a value`);
    const problem = spec.value(value);
    if (problem) throw new InvalidArgument(ARGUMENT, `${key}: ${problem}`);
    // A forced value wins; dropping the caller's copy avoids a duplicate key.
    if (!forcedKeys.has(key)) fsOptions.push(`${key}=${value}`);
  }
  return { fsOptions: [...fsOptions, ...forced], attributes };
}
