// A file descriptor the daemon handed over: ours alone, so it must be
// closed exactly once, including when the caller forgets (`using`).
import fs from 'node:fs';

export class OwnedFd {
  #fd: number;

  constructor(fd: number) {
    if (!Number.isInteger(fd) || fd < 0) throw new TypeError(`not a file descriptor: ${String(fd)}`);
    this.#fd = fd;
  }

  /** The fd number; throws once closed, so a reused number is never touched. */
  get fd(): number {
    if (this.#fd < 0) throw new Error('the file descriptor is already closed');
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Gives up ownership: the caller closes the number returned. */
  release(): number {
    const fd = this.fd;
    this.#fd = -1;
    return fd;
  }

  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    try {
      fs.closeSync(fd);
    } catch {
      // close(2) frees the number even when it reports an error (EINTR, EIO),
      // so there is nothing to retry and nothing the caller could do.
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Where the API takes an fd: a plain number (the caller keeps it) or an OwnedFd. */
export type FdLike = number | OwnedFd;

export function fdNumber(fd: FdLike): number {
  return typeof fd === 'number' ? fd : fd.fd;
}
