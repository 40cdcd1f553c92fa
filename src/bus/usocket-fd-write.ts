// usocket 1.1.0 mishandles fds on a partial write, in two ways:
// - its C++ write loop keeps msg_control set after the first sendmsg, so
//   when a big message goes out in several sendmsg calls the fds are sent
//   again with every further chunk; the bus then counts fds that no message
//   declared and drops the connection (found by the fuzzer: a 400 KB call
//   with an fd next to a small one with an fd);
// - when the first sendmsg finds the socket full (EAGAIN), the retry sends
//   the data without the fds, so the message arrives without them.
// Both go away when the fds travel in a sendmsg of exactly one byte, which
// the kernel takes whole or not at all, and a full socket retries the whole
// chunk, fds included. The rest of the message then goes out without fds,
// a path usocket gets right.

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
  _write(chunk: Chunk | Buffer, encoding: unknown, callback: WriteCallback): void;
  fdWritePatched?: boolean;
}

const isError = (r: unknown): r is Error => r instanceof Error || Object.prototype.toString.call(r) === '[object Error]';

/** Makes one usocket stream send fds safely. Idempotent. */
export function patchUsocketFdWrites(stream: object): void {
  const s = stream as UsocketStream;
  if (s.fdWritePatched) return;
  s.fdWritePatched = true;
  const original = s._write.bind(s);
  s._write = function write(chunk: Chunk | Buffer, encoding: unknown, callback: WriteCallback): void {
    const fds = Buffer.isBuffer(chunk) ? undefined : chunk.fds;
    const data = Buffer.isBuffer(chunk) ? chunk : chunk.data;
    if (!fds || fds.length === 0 || !data || data.length === 0 || !s._wrap) return original(chunk, encoding, callback);
    const r = s._wrap.write(data.subarray(0, 1), fds);
    if (isError(r)) return callback(r);
    if (r === 0) {
      // The socket is full: usocket calls drain once it is writable again.
      s._wrap.drain = () => write(chunk, encoding, callback);
      return;
    }
    const rest: Chunk = { data: data.subarray(1) };
    if (!Buffer.isBuffer(chunk) && chunk.callback) rest.callback = () => chunk.callback!(chunk);
    original(rest, encoding, callback);
  };
}
