// The registry: read and written only under an exclusive flock on a lock
// file in the state directory, so two daemons sharing a state directory
// never hand out the same block. registry.json is replaced atomically
// (write, fsync, rename) so a crash never leaves it half-written; the
// history of freed blocks is an append-only log beside it, written before
// the registry so a crash in between can only keep a block busy, never
// hand it out twice.
import fs from 'node:fs';
import path from 'node:path';
import { emptyState, validateState, type RegistryState } from './state';
import { FreedBlocks, parseFreedLog, appendDurably } from './freed-blocks';
import { flock, LOCK_EX, LOCK_UN } from '../native/fd';
import { SystemError } from '../errors';
import { Errno } from '../native/errno';

const REGISTRY_FILE = 'registry.json';
const FREED_LOG = 'freed.log';
const LOCK_FILE = 'registry.lock';
/** Rewrite the log once it holds this many times more lines than blocks. */
const COMPACT_FACTOR = 4;

interface FileSignature {
  ino: number;
  mtimeNs: bigint;
  size: number;
}

export class RegistryCorrupt extends Error {}

function errnoOf(err: unknown): number {
  const e = err as NodeJS.ErrnoException;
  const code = e.code ? (Errno as Record<string, number>)[e.code] : undefined;
  return code ?? (typeof e.errno === 'number' ? Math.abs(e.errno) : 5);
}

function statOrNull(file: string): fs.BigIntStats | null {
  try {
    return fs.statSync(file, { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export class RegistryStore {
  private readonly file: string;
  private readonly freedFile: string;
  private lockFd = -1;
  private cached: RegistryState = emptyState();
  private signature: FileSignature | null = null;
  private freed = new FreedBlocks();
  /** What of freed.log is in `freed`: its inode and how many bytes were read. */
  private freedRead: { ino: bigint; bytes: number; lines: number } | null = null;

  constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, REGISTRY_FILE);
    this.freedFile = path.join(stateDir, FREED_LOG);
  }

  /** Creates the state directory if needed and loads the registry; throws RegistryCorrupt on a damaged file. */
  open(): void {
    fs.mkdirSync(this.stateDir, { recursive: true, mode: 0o755 });
    // libuv opens with O_CLOEXEC.
    this.lockFd = fs.openSync(path.join(this.stateDir, LOCK_FILE), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    this.withLock(() => this.refresh());
  }

  close(): void {
    if (this.lockFd >= 0) fs.closeSync(this.lockFd);
    this.lockFd = -1;
  }

  /** The current state; treat it as read-only (it is the cache itself). */
  read(): RegistryState {
    return this.withLock(() => {
      this.refresh();
      return this.cached;
    });
  }

  /**
   * Runs `change` on the freshest state and makes the result durable before
   * returning. If `change` throws or a write fails, nothing is stored.
   */
  update<T>(change: (state: RegistryState, freed: FreedBlocks) => T): T {
    return this.withLock(() => {
      this.refresh();
      // Mutate in place (a deep copy per call costs more than the rest of
      // an allocation); on any failure drop the caches so the next access
      // re-reads what is really on disk.
      try {
        const result = change(this.cached, this.freed);
        const appended = this.freed.takePending();
        if (appended) this.appendFreed(appended);
        this.write(this.cached);
        return result;
      } catch (err) {
        this.freed.dropPending();
        this.forget();
        throw err;
      }
    });
  }

  private forget(): void {
    this.signature = null;
    this.cached = emptyState();
    this.freed = new FreedBlocks();
    this.freedRead = null;
  }

  private withLock<T>(fn: () => T): T {
    if (this.lockFd < 0) throw new Error('registry is not open');
    flock(this.lockFd, LOCK_EX);
    try {
      return fn();
    } finally {
      flock(this.lockFd, LOCK_UN);
    }
  }

  /** Re-reads only what another writer changed. */
  private refresh(): void {
    this.refreshRegistry();
    this.refreshFreed();
  }

  private refreshRegistry(): void {
    const st = statOrNull(this.file);
    if (!st) {
      this.cached = emptyState();
      this.signature = null;
      return;
    }
    const sig = { ino: Number(st.ino), mtimeNs: st.mtimeNs, size: Number(st.size) };
    if (this.signature && sig.ino === this.signature.ino && sig.mtimeNs === this.signature.mtimeNs && sig.size === this.signature.size) {
      return;
    }
    try {
      this.cached = validateState(JSON.parse(fs.readFileSync(this.file, 'utf8')));
    } catch (err) {
      throw new RegistryCorrupt(`${this.file}: ${(err as Error).message}; refusing to guess (move it aside to start afresh)`);
    }
    this.signature = sig;
    // Blocks in use are not candidates, whatever the log says.
    for (const n of this.cached.namespaces) this.freed.take(n.base);
  }

  private refreshFreed(): void {
    const st = statOrNull(this.freedFile);
    if (!st) {
      if (this.freedRead) this.freed = new FreedBlocks();
      this.freedRead = null;
      return;
    }
    const size = Number(st.size);
    if (this.freedRead && this.freedRead.ino === st.ino && this.freedRead.bytes === size) return;
    let from = 0;
    if (this.freedRead && this.freedRead.ino === st.ino && this.freedRead.bytes < size) {
      from = this.freedRead.bytes;
    } else {
      this.freed = new FreedBlocks();
      this.freedRead = { ino: st.ino, bytes: 0, lines: 0 };
    }
    const fd = fs.openSync(this.freedFile, 'r');
    let text: string;
    try {
      const buffer = Buffer.alloc(size - from);
      fs.readSync(fd, buffer, 0, buffer.length, from);
      text = buffer.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
    // Only whole lines count; a torn tail is re-read once complete.
    const end = text.lastIndexOf('\n') + 1;
    const lines = parseFreedLog(text.slice(0, end), this.freed);
    this.freedRead = { ino: st.ino, bytes: from + Buffer.byteLength(text.slice(0, end)), lines: (this.freedRead?.lines ?? 0) + lines };
    for (const n of this.cached.namespaces) this.freed.take(n.base);
  }

  private appendFreed(text: string): void {
    try {
      if (this.freedRead && this.freedRead.lines > COMPACT_FACTOR * (this.freed.size + 256)) {
        this.compactFreed();
        return;
      }
      appendDurably(this.freedFile, text);
    } catch (err) {
      throw new SystemError(errnoOf(err), `writing the registry's freed-block log in ${this.stateDir}`);
    }
    const st = fs.statSync(this.freedFile, { bigint: true });
    const lines = text.split('\n').length - 1;
    this.freedRead = { ino: st.ino, bytes: Number(st.size), lines: (this.freedRead?.lines ?? 0) + lines };
  }

  /**
   * Rewrites the log with one line per free block, in the same order.
   * `freed` already holds the pending entries (markFreed applies them);
   * blocks in use were taken out of it and stay out.
   */
  private compactFreed(): void {
    const text = this.freed
      .entries()
      .map(([base, at]) => `${base} ${at}\n`)
      .join('');
    const tmp = `${this.freedFile}.tmp-${process.pid}`;
    try {
      const fd = fs.openSync(tmp, 'w', 0o644);
      try {
        fs.writeSync(fd, text);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.freedFile);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    const st = fs.statSync(this.freedFile, { bigint: true });
    this.freedRead = { ino: st.ino, bytes: Number(st.size), lines: this.freed.size };
  }

  private write(state: RegistryState): void {
    const tmp = `${this.file}.tmp-${process.pid}`;
    try {
      const fd = fs.openSync(tmp, 'w', 0o644);
      try {
        fs.writeSync(fd, JSON.stringify(state));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw new SystemError(errnoOf(err), `writing the registry in ${this.stateDir}`);
    }
    const st = fs.statSync(this.file, { bigint: true });
    this.signature = { ino: Number(st.ino), mtimeNs: st.mtimeNs, size: Number(st.size) };
  }
}
