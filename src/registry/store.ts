// The registry file: read and written only under an exclusive flock on a
// lock file in the state directory, replaced atomically (write, fsync,
// rename), so two daemons sharing a state directory never hand out the
// same block and a crash never leaves a half-written registry.
import fs from 'node:fs';
import path from 'node:path';
import { emptyState, validateState, type RegistryState } from './state';
import { flock, LOCK_EX, LOCK_UN } from '../native/fd';
import { SystemError } from '../errors';
import { Errno } from '../native/errno';

const REGISTRY_FILE = 'registry.json';
const LOCK_FILE = 'registry.lock';

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

export class RegistryStore {
  private readonly file: string;
  private lockFd = -1;
  private cached: RegistryState = emptyState();
  private signature: FileSignature | null = null;

  constructor(readonly stateDir: string) {
    this.file = path.join(stateDir, REGISTRY_FILE);
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
   * Runs `change` on a private copy of the freshest state and makes the
   * result durable before returning. If `change` throws or the write fails,
   * nothing is stored.
   */
  update<T>(change: (state: RegistryState) => T): T {
    return this.withLock(() => {
      this.refresh();
      // Mutate in place (a deep copy per call costs more than the rest of
      // an allocation); on any failure drop the cache so the next access
      // re-reads what is really on disk.
      try {
        const result = change(this.cached);
        this.write(this.cached);
        return result;
      } catch (err) {
        this.signature = null;
        this.cached = emptyState();
        throw err;
      }
    });
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

  /** Re-reads the file only when another writer changed it. */
  private refresh(): void {
    let st: fs.BigIntStats;
    try {
      st = fs.statSync(this.file, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.cached = emptyState();
        this.signature = null;
        return;
      }
      throw err;
    }
    const sig = { ino: Number(st.ino), mtimeNs: st.mtimeNs, size: Number(st.size) };
    if (this.signature && sig.ino === this.signature.ino && sig.mtimeNs === this.signature.mtimeNs && sig.size === this.signature.size) {
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      this.cached = validateState(parsed);
    } catch (err) {
      throw new RegistryCorrupt(`${this.file}: ${(err as Error).message}; refusing to guess (move it aside to start afresh)`);
    }
    this.signature = sig;
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
