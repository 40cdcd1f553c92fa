// usocket 1.1.0 mishandles fds on a partial write, in two ways:
// - its C++ write loop keeps msg_control set after the first sendmsg, so
//   when a big message goes out in several sendmsg calls the fds are sent
//   again with every further chunk; the bus then counts fds that no message
//   declared and drops the connection (found by the fuzzer: a 400 KB call
//   with an fd next to a small one with an fd);
// - when the first sendmsg finds the socket full (EAGAIN), the retry sends
//   the data without the fds, so the message arrives without them.
// Both go away when the fds travel in a sendmsg the kernel takes whole or
// not at all, and a full socket retries the whole chunk, fds included. A
// small message is such a sendmsg: a unix stream socket queues it as one
// buffer, whatever the socket's send buffer size (a buffer holds at least
// half the smallest send buffer Linux allows, ~2.2 KB), so it goes out in
// one sendmsg and wakes the bus once. A bigger one sends its first byte
// with the fds, then the rest without fds, a path usocket gets right.
//
// A write is also not always immediate: while an earlier one waits for the
// socket, later ones queue in the stream. Whoever sent a message closes its
// fds right after (the dispatcher does, for reply fds), so a queued message
// would go out with closed fd numbers, or with numbers since reused for
// something else, handed to a caller. So the fds are duplicated when the
// message is queued and the copies are closed once the kernel has them.

import { closeQuietly, dupCloexec } from '../native/fd';

interface UsocketWrap {
  write(data: Buffer | undefined, fds: number[] | undefined): number | Error;
  drain: (() => void) | null;
}

interface Chunk {
  data?: Buffer;
  fds?: number[];
  callback?: (chunk: unknown) => void;
}

type WriteCallback = (err?: Error | null) => void;

interface UsocketStream {
  _wrap: UsocketWrap | null;
  write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean;
  _write(chunk: Chunk | Buffer, encoding: unknown, callback: WriteCallback): void;
  fdWritePatched?: boolean;
}

/** Messages up to this size go out in one sendmsg with their fds (see above). */
export const WHOLE_SENDMSG_BYTES = 2048;

const isError = (r: unknown): r is Error => r instanceof Error || Object.prototype.toString.call(r) === '[object Error]';

export interface FdOps {
  dup(fd: number): number;
  close(fd: number): void;
}

/** Makes one usocket stream send fds safely. Idempotent. */
export function patchUsocketFdWrites(stream: object, ops: FdOps = { dup: dupCloexec, close: closeQuietly }): void {
  const s = stream as UsocketStream;
  if (s.fdWritePatched) return;
  s.fdWritePatched = true;
  const originalQueue = s.write.bind(s);
  s.write = (chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
    if (chunk && typeof chunk === 'object' && !Buffer.isBuffer(chunk)) {
      const c = chunk as Chunk;
      // Copies that live until the kernel holds the fds (see _write below).
      if (c.fds && c.fds.length > 0) {
        const copies: number[] = [];
        try {
          for (const fd of c.fds) copies.push(ops.dup(fd));
        } catch (err) {
          for (const fd of copies) ops.close(fd);
          throw err;
        }
        chunk = { ...c, fds: copies };
      }
    }
    return originalQueue(chunk, encoding, callback);
  };
  const original = s._write.bind(s);
  s._write = function write(chunk: Chunk | Buffer, encoding: unknown, callback: WriteCallback): void {
    const fds = Buffer.isBuffer(chunk) ? undefined : chunk.fds;
    const data = Buffer.isBuffer(chunk) ? chunk : chunk.data;
    if (!fds || fds.length === 0) return original(chunk, encoding, callback);
    if (!data || data.length === 0 || !s._wrap) {
      return original(chunk, encoding, (err) => {
        for (const fd of fds) ops.close(fd);
        callback(err);
      });
    }
    const first = data.length <= WHOLE_SENDMSG_BYTES ? data : data.subarray(0, 1);
    const r = s._wrap.write(first, fds);
    if (isError(r)) {
      for (const fd of fds) ops.close(fd);
      return callback(r);
    }
    if (r === 0) {
      // The socket is full: usocket calls drain once it is writable again.
      s._wrap.drain = () => write(chunk, encoding, callback);
      return;
    }
    for (const fd of fds) ops.close(fd);
    if (r === data.length) {
      if (!Buffer.isBuffer(chunk) && chunk.callback) chunk.callback(chunk);
      return callback();
    }
    const rest: Chunk = { data: data.subarray(r) };
    if (!Buffer.isBuffer(chunk) && chunk.callback) rest.callback = () => chunk.callback!(chunk);
    original(rest, encoding, callback);
  };
}
