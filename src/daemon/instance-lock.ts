// One daemon per state directory. A second one would share the registry
// (fine, it is locked) but also the embedded bus's runtime directory, whose
// socket it would replace; and its exit would stop the first one's bus.
// So the first thing a daemon does is take this lock, and a second one
// refuses before it touches anything. The lock is an flock held for the
// process's life: the kernel drops it when the daemon dies however it
// dies, so a stale pid in the file never blocks a start.
import fs from 'node:fs';
import path from 'node:path';
import { flock, LOCK_EX, LOCK_NB } from '../native/fd';
import { SystemError } from '../errors';
import { Errno } from '../native/errno';

const PID_FILE = 'nsmountd.pid';

export class AlreadyRunning extends Error {
  constructor(
    readonly pid: number | undefined,
    readonly stateDir: string,
  ) {
    super(`already running (pid ${pid ?? 'unknown'}) on the state directory ${stateDir}`);
  }
}

export interface InstanceLock {
  release(): void;
}

/** Takes the state directory's daemon lock and records our pid; throws AlreadyRunning when another daemon holds it. */
export function lockStateDirectory(stateDir: string): InstanceLock {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = path.join(stateDir, PID_FILE);
  // libuv opens with O_CLOEXEC, so the lock is not inherited by helpers we exec.
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    flock(fd, LOCK_EX | LOCK_NB);
  } catch (err) {
    fs.closeSync(fd);
    if (err instanceof SystemError && err.errno === Errno.EWOULDBLOCK) throw new AlreadyRunning(readPid(file), stateDir);
    throw err;
  }
  // The pid is for the message a second daemon prints; the lock is what
  // counts, so a full or read-only state directory does not stop a start.
  // Overwriting in place before truncating needs no new block when full.
  const text = `${process.pid}\n`;
  try {
    fs.writeSync(fd, text, 0);
    fs.ftruncateSync(fd, Buffer.byteLength(text));
  } catch {
    // Keep the lock; the second daemon then says "pid unknown".
  }
  return {
    release() {
      fs.closeSync(fd);
    },
  };
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
