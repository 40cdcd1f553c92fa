// Opening the paths a user names, as the user (libuv opens with O_CLOEXEC,
// so no fd reaches a command we start): the daemon never resolves a
// caller's path itself, it only gets fds.
import fs from 'node:fs';
import path from 'node:path';
import { CliError } from './errors';

// O_PATH is missing from fs.constants; this value holds on every Linux arch Node runs on but alpha/parisc/sparc.
export const O_PATH = 0o10000000;

function opened(p: string, flags: number): number {
  try {
    return fs.openSync(p, flags);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new CliError(`${p} does not exist`);
    if (e.code === 'ENOTDIR') throw new CliError(`${p} is not a directory`);
    if (e.code === 'EACCES') throw new CliError(`${p}: permission denied`);
    if (e.code === 'EISDIR') throw new CliError(`${p} is a directory, not a file`);
    throw new CliError(`cannot open ${p}: ${e.code ?? e.message}`);
  }
}

export function openDirectory(p: string): number {
  return opened(p, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
}

/** An fd of the directory itself, even when something is mounted on it (that mount's root). */
export function openDirectoryPath(p: string): number {
  return opened(p, O_PATH | fs.constants.O_DIRECTORY);
}

export function openFile(p: string, opts: { write: boolean }): number {
  if (opts.write) {
    try {
      return fs.openSync(p, fs.constants.O_RDWR);
    } catch (err) {
      // A file we may only read can still be mounted read-only.
      if ((err as NodeJS.ErrnoException).code !== 'EACCES' && (err as NodeJS.ErrnoException).code !== 'EROFS') throw err;
    }
  }
  return opened(p, fs.constants.O_RDONLY);
}

/** "a/b/c" -> parent "a/b" and name "c"; trailing slashes ignored. */
export function splitParent(p: string): { parent: string; name: string } {
  const trimmed = p.replace(/\/+$/, '');
  const name = path.basename(trimmed);
  if (!name || name === '.' || name === '..') throw new CliError(`${p} does not name a new directory`);
  return { parent: path.dirname(trimmed) || '.', name };
}
