// The usocket write fix, against a fake socket that records each sendmsg:
// fds travel once, with a small message whole or with a big one's first
// byte, a full socket retries them, and the sender's fds may be closed as
// soon as the message is queued.
import test from 'ava';
import { patchUsocketFdWrites, WHOLE_SENDMSG_BYTES } from '../../src/bus/usocket-fd-write';

interface Sent {
  bytes: number;
  fds: number[];
}

/** Mimics usocket's _write over a wrap whose writes take at most `room` bytes (0: EAGAIN). */
function fakeStream(rooms: number[]) {
  const sent: Sent[] = [];
  const wrap = {
    drain: null as (() => void) | null,
    write(data: Buffer | undefined, fds: number[] | undefined): number {
      const room = rooms.length ? rooms.shift()! : Infinity;
      const n = Math.min(room, data?.length ?? 0);
      if (n > 0 || (fds?.length && room > 0)) sent.push({ bytes: n, fds: fds ?? [] });
      return n;
    },
  };
  const open = new Set<number>();
  let nextFd = 100;
  const ops = {
    dup: (fd: number) => {
      if (fd < 0) throw new Error('EBADF');
      open.add(nextFd);
      return nextFd++;
    },
    close: (fd: number) => {
      if (!open.delete(fd)) throw new Error(`closing ${fd}, which is not an open copy`);
    },
  };
  const stream = {
    _wrap: wrap,
    // A Writable without a queue is enough here: one chunk per test.
    write(chunk: { data?: Buffer; fds?: number[] }, _enc?: unknown, callback?: (err?: Error) => void): boolean {
      stream._write(chunk, null, callback ?? (() => {}));
      return true;
    },
    // usocket's own _write: partial writes wait for drain and resend the rest without fds.
    _write(chunk: { data?: Buffer; fds?: number[] }, _enc: unknown, callback: (err?: Error) => void): void {
      const r = wrap.write(chunk.data, chunk.fds);
      if (!chunk.data || r === chunk.data.length) return callback();
      wrap.drain = () => stream._write({ data: chunk.data!.subarray(r) }, _enc, callback);
    },
  };
  patchUsocketFdWrites(stream, ops);
  const drainAll = () => {
    while (wrap.drain) {
      const d = wrap.drain;
      wrap.drain = null;
      d();
    }
  };
  return { stream, sent, drainAll, open };
}

test('fds go out once, with the first byte, however the rest is cut', (t) => {
  const { stream, sent, drainAll, open } = fakeStream([Infinity, 1000, 0, 500]);
  let done = false;
  stream.write({ data: Buffer.alloc(4000), fds: [7, 8] }, null, () => (done = true));
  drainAll();
  t.true(done);
  t.deepEqual(sent[0], { bytes: 1, fds: [100, 101] }, 'copies of 7 and 8');
  t.is(open.size, 0, 'the copies are closed once sent');
  t.deepEqual(sent.slice(1).flatMap((s) => s.fds), []);
  t.is(sent.reduce((n, s) => n + s.bytes, 0), 4000);
});

test('a full socket retries the fds with the data instead of dropping them', (t) => {
  const { stream, sent, drainAll, open } = fakeStream([0]);
  let done = false;
  stream.write({ data: Buffer.alloc(100), fds: [9] }, null, () => (done = true));
  t.false(done);
  t.deepEqual([...open], [100], 'a queued message keeps its own copy, whatever the sender closes');
  drainAll();
  t.true(done);
  t.deepEqual(sent, [{ bytes: 100, fds: [100] }]);
  t.is(open.size, 0);
});

test('a small message goes out whole with its fds, in one sendmsg', (t) => {
  const { stream, sent, open } = fakeStream([]);
  let done = false;
  stream.write({ data: Buffer.alloc(WHOLE_SENDMSG_BYTES), fds: [7] }, null, () => (done = true));
  t.true(done);
  t.deepEqual(sent, [{ bytes: WHOLE_SENDMSG_BYTES, fds: [100] }]);
  t.is(open.size, 0);
});

test('a bigger message sends its fds with its first byte only', (t) => {
  const { stream, sent, drainAll } = fakeStream([]);
  stream.write({ data: Buffer.alloc(WHOLE_SENDMSG_BYTES + 1), fds: [7] }, null, () => {});
  drainAll();
  t.deepEqual(sent, [{ bytes: 1, fds: [100] }, { bytes: WHOLE_SENDMSG_BYTES, fds: [] }]);
});

test('writes without fds are left to usocket', (t) => {
  const { stream, sent, drainAll } = fakeStream([]);
  stream.write({ data: Buffer.alloc(50) }, null, () => {});
  drainAll();
  t.deepEqual(sent, [{ bytes: 50, fds: [] }]);
});

test('a bad fd fails the send at once and leaves no copy behind', (t) => {
  const { stream, sent, open } = fakeStream([]);
  t.throws(() => stream.write({ data: Buffer.alloc(50), fds: [5, -1] }), { message: 'EBADF' });
  t.deepEqual(sent, []);
  t.is(open.size, 0);
});
