// Writing the registry's files so that a crash or a power cut leaves either
// the old content or the new, never a mix: the one place that knows the
// write, fsync, rename, fsync-the-directory sequence.
import fs from 'node:fs';
import path from 'node:path';

/** Writes all of `text` at `position` (a full file system may take part of it first); returns the bytes written. */
export function writeAll(fd: number, text: string, position: number | null = null): number {
  const buffer = Buffer.from(text);
  let done = 0;
  while (done < buffer.length) {
    done += fs.writeSync(fd, buffer, done, buffer.length - done, position === null ? null : position + done);
  }
  return done;
}

/** Replaces `file` with `text` atomically: the file is the old one or the new one, never half of either. */
export function replaceFile(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      writeAll(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDirectoryOf(file);
}

/** Appends `text` and syncs it before returning. */
export function appendDurably(file: string, text: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
  try {
    writeAll(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Makes a rename in the directory survive a power cut. Best effort: the new
 * file is in place by now, and a failure reported here would make the caller
 * believe the old one still is.
 */
function syncDirectoryOf(file: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path.dirname(file), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fs.fsyncSync(fd);
  } catch {
    // See above.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
