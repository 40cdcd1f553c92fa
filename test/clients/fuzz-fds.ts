// The fds the fuzz client passes for each fd kind (test/fuzz/fd-kinds.ts):
// opened fresh for the call, inherited from the fd-zoo prologue, or taken
// from the pools of fds earlier replies handed over. Kept apart from
// fuzz.ts, which sends the calls and judges the replies, because this is
// the one place that knows what each kind is on disk.
import fs from 'node:fs';
import path from 'node:path';
import type dbus from 'dbus-next';
import { INHERITED_KINDS, type FdKind, type InheritedKind } from '../fuzz/fd-kinds';
import type { FuzzEnv } from '../fuzz/types';

export const O_PATH = 0o10000000;
const O_NOFOLLOW = fs.constants.O_NOFOLLOW;
export const O_DIRECTORY = fs.constants.O_DIRECTORY;
/** Received fds kept per kind for later calls; older ones are closed, which ends their namespaces and mounts. */
const POOL_SIZE = 3;
/**
 * Iterations a received fd is kept at most. Four users holding three
 * namespaces each for good would keep the eight-block pool full, and
 * allocation, reclaim and reuse would stop being exercised.
 */
const POOL_LIFETIME = 40;

export const pools: Record<'pool-userns' | 'pool-mount' | 'pool-directory', number[]> = { 'pool-userns': [], 'pool-mount': [], 'pool-directory': [] };
/** Iteration each pooled fd arrived in. */
const pooledAt = new Map<number, number>();

/** What resolveFd needs of the client: its workspace, seed, inherited fds and a counter for fresh directory names. */
export interface FdContext {
  env: FuzzEnv;
  seed: number;
  inherited: Partial<Record<InheritedKind, number>>;
  nextAttachSerial(): number;
}

export function poolAdd(kind: keyof typeof pools, fd: number, iteration: number): void {
  const pool = pools[kind];
  pool.push(fd);
  pooledAt.set(fd, iteration);
  while (pool.length > POOL_SIZE) closePooled(pool.shift()!);
}

export function closePooled(fd: number): void {
  pooledAt.delete(fd);
  fs.closeSync(fd);
}

export function expirePools(iteration: number): void {
  for (const pool of Object.values(pools)) {
    while (pool.length && iteration - pooledAt.get(pool[0])! > POOL_LIFETIME) closePooled(pool.shift()!);
  }
}

export interface Opened {
  fds: number[];
  /** Fresh AttachTo candidates made for this call; removed (or unmounted first) afterwards. */
  attachDirs: string[];
}

/** Turns a kind into an fd; fds in `opened` are the call's to close. */
export function resolveFd(kind: FdKind, iteration: number, opened: Opened, bus: dbus.MessageBus, ctx: FdContext): number {
  const open = (file: string, flags: number) => {
    const fd = fs.openSync(file, flags);
    opened.fds.push(fd);
    return fd;
  };
  const { env, seed, inherited } = ctx;
  const home = env.home;
  switch (kind) {
    case 'file-ro': return open(path.join(home, 'file.txt'), fs.constants.O_RDONLY);
    case 'file-rw': return open(path.join(home, 'file.txt'), fs.constants.O_RDWR);
    case 'file-wo': return open(path.join(home, 'file.txt'), fs.constants.O_WRONLY);
    case 'file-path': return open(path.join(home, 'file.txt'), O_PATH);
    case 'symlink-path': return open(path.join(home, 'link'), O_PATH | O_NOFOLLOW);
    case 'fifo': return open(path.join(home, 'fifo'), fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    case 'dir-ro': return open(home, fs.constants.O_RDONLY | O_DIRECTORY);
    case 'dir-path': return open(home, O_PATH | O_DIRECTORY);
    case 'attach-dir':
    case 'attach-dir-ro': {
      const dir = path.join(env.attachRoot, `${seed}-${iteration}-${ctx.nextAttachSerial()}`);
      fs.mkdirSync(dir);
      opened.attachDirs.push(dir);
      return open(dir, kind === 'attach-dir' ? O_PATH | O_DIRECTORY : fs.constants.O_RDONLY | O_DIRECTORY);
    }
    case 'dir-nonempty': return open(path.join(home, 'nonempty'), O_PATH | O_DIRECTORY);
    case 'dir-other-user': return open(env.otherUserDir, O_PATH | O_DIRECTORY);
    case 'dir-foreign': return open(path.join(home, 'foreign'), O_PATH | O_DIRECTORY);
    case 'dir-foreign-orphan': return open(env.foreignOrphan, O_PATH | O_DIRECTORY);
    case 'dir-root': return open('/', O_PATH | O_DIRECTORY);
    case 'dir-tmp': return open(env.tmp, fs.constants.O_RDONLY | O_DIRECTORY);
    case 'proc-dir': return open('/proc', O_PATH | O_DIRECTORY);
    case 'proc-self-dir': return open('/proc/self', fs.constants.O_RDONLY | O_DIRECTORY);
    case 'proc-file': return open('/proc/self/status', fs.constants.O_RDONLY);
    case 'proc-ns-dir': return open('/proc/self/ns', O_PATH | O_DIRECTORY);
    case 'ns-user-path': return open('/proc/self/ns/user', O_PATH);
    case 'dev-null': return open('/dev/null', fs.constants.O_RDWR);
    case 'dev-zero': return open('/dev/zero', fs.constants.O_RDONLY);
    case 'dev-loop-control-path': return open('/dev/loop-control', O_PATH);
    case 'dev-loop-path': return open(env.loopDevice, O_PATH);
    case 'image-trusted': return open(env.trustedImage, fs.constants.O_RDONLY);
    case 'image-trusted-path': return open(env.trustedImage, O_PATH);
    case 'image-own-ext4-ro': return open(env.images.ext4, fs.constants.O_RDONLY);
    case 'image-own-ext4-rw': return open(env.images.ext4, fs.constants.O_RDWR);
    case 'image-own-gpt': return open(env.images.gpt, fs.constants.O_RDONLY);
    case 'image-own-garbage': return open(env.images.garbage, fs.constants.O_RDONLY);
    case 'image-own-truncated': return open(env.images.truncated, fs.constants.O_RDONLY);
    case 'image-own-empty': return open(env.images.empty, fs.constants.O_RDONLY);
    case 'bus-socket': {
      const fd = (bus as unknown as { _connection: { stream: { fd?: number } } })._connection.stream.fd;
      return typeof fd === 'number' ? fd : open('/dev/null', fs.constants.O_RDONLY);
    }
    case 'pool-userns':
    case 'pool-mount':
    case 'pool-directory': {
      const pool = pools[kind];
      return pool.length ? pool[iteration % pool.length] : open('/dev/null', fs.constants.O_RDONLY);
    }
    default:
      if (kind.startsWith('ns-')) return open(`/proc/self/ns/${kind.slice(3)}`, fs.constants.O_RDONLY);
      if ((INHERITED_KINDS as readonly string[]).includes(kind)) {
        const fd = inherited[kind as InheritedKind];
        if (fd === undefined) throw new Error(`inherited fd ${kind} is missing`);
        return fd;
      }
      throw new Error(`unknown fd kind ${kind}`);
  }
}
