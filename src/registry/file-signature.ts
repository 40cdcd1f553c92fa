// How the store tells whether another writer changed one of its files
// since it read it, without reading it: inode, mtime and size.
import fs from 'node:fs';
import { Errno } from '../native/errno';

export interface FileSignature {
  ino: bigint;
  mtimeNs: bigint;
  size: bigint;
}

// Runs on every registry read, and the snapshot and freed log are often
// missing: an ENOENT exception (stack trace included) cost more than the stat.
export function statOrNull(file: string): fs.BigIntStats | null {
  return fs.statSync(file, { bigint: true, throwIfNoEntry: false }) ?? null;
}

export function sameSignature(a: FileSignature | null, b: fs.BigIntStats | null): boolean {
  if (!a || !b) return a === null && b === null;
  return a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.size === b.size;
}

export function signatureOf(st: fs.BigIntStats | null): FileSignature | null {
  return st && { ino: st.ino, mtimeNs: st.mtimeNs, size: st.size };
}

/** Bytes `from` up to `to` of `file`, as text; fewer when the file is shorter. */
export function readFrom(file: string, from: number, to: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(to - from);
    const n = fs.readSync(fd, buffer, 0, buffer.length, from);
    return buffer.subarray(0, n).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** The errno of a failed fs call, for a SystemError; EIO when Node gives none. */
export function errnoOf(err: unknown): number {
  const e = err as NodeJS.ErrnoException;
  const code = e.code ? (Errno as Record<string, number>)[e.code] : undefined;
  return code ?? (typeof e.errno === 'number' ? Math.abs(e.errno) : 5);
}
