// Opening the paths a user names, as the user (libuv opens with O_CLOEXEC,
// so no fd reaches a command we start): the daemon never resolves a
// caller's path itself, it only gets fds.
import fs from 'node:fs';
import path from 'node:path';
import { CliError, errnoText } from './errors';
import { O_PATH } from '../native/flags';

function opened(p: string, flags: number): number {
  try {
    return fs.openSync(p, flags);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new CliError(`${p} does not exist`);
    if (e.code === 'ENOTDIR') throw new CliError(`${p} is not a directory`);
    if (e.code === 'EACCES') throw new CliError(`${p}: permission denied`);
    if (e.code === 'EISDIR') throw new CliError(`${p} is a directory, not a file`);
    throw new CliError(`cannot open ${p}: ${e.code ? errnoText(e.code) : e.message}`);
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

/**
 * Creates `p` and its missing parents as the caller, like mkdir -p (the
 * daemon only ever makes the last, foreign-owned component). Returns the
 * first directory it created, to undo on failure, or undefined.
 */
export function makeParents(p: string): string | undefined {
  try {
    return fs.mkdirSync(p, { recursive: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST' || e.code === 'ENOTDIR') throw new CliError(`${e.path ?? p} exists and is not a directory`);
    if (e.code === 'EACCES') throw new CliError(`cannot create ${p}: permission denied on ${e.path ?? p}`);
    throw new CliError(`cannot create ${p}: ${e.code ? errnoText(e.code) : e.message}`);
  }
}

/** Undoes makeParents: removes `p` and its parents up to `firstMade`, as long as they are empty. */
export function removeMadeDirectories(p: string, firstMade: string | undefined): void {
  if (firstMade === undefined) return;
  const stop = path.resolve(firstMade);
  for (let dir = path.resolve(p); ; dir = path.dirname(dir)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      return;
    }
    if (dir === stop || dir === path.dirname(dir)) return;
  }
}
