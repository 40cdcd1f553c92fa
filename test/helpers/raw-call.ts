// One method call written byte by byte on a fresh bus connection, for
// messages the bus accepts but no D-Bus library would compose (an 'h'
// naming an fd that was not sent). Prints the reply's type and, for an
// error, its name and text.
import { runAsUser } from './as-user';
import type { TestUser } from './users';

const RAW_CALL = String.raw`
import json, os, socket, struct, sys
a = json.loads(sys.argv[1])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(a["address"].split("path=")[1].split(",")[0])
s.settimeout(a["timeoutSeconds"])
def line(text):
    s.sendall(text)
    got = b""
    while not got.endswith(b"\r\n"):
        got += s.recv(1)
    return got
line(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
line(b"NEGOTIATE_UNIX_FD\r\n")
s.sendall(b"BEGIN\r\n")
def pad(b, n): return b + b"\0" * ((-len(b)) % n)
def field(code, sig, val):
    out = bytes([code, 1]) + sig.encode() + b"\0"
    if sig in "os": return out + struct.pack("<I", len(val)) + val.encode() + b"\0"
    return out + bytes([len(val)]) + val.encode() + b"\0"
def call(serial, dest, path, iface, member, sig, body):
    fields = [field(1, "o", path), field(6, "s", dest), field(3, "s", member)]
    if iface: fields.append(field(2, "s", iface))
    if sig: fields.append(field(8, "g", sig))
    fb = b""
    for f in fields: fb = pad(fb, 8) + f
    return pad(b"l" + bytes([1, 0, 1]) + struct.pack("<III", len(body), serial, len(fb)) + fb, 8) + body
buf = b""
def read(n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d: raise EOFError
        buf += d
    out, buf = buf[:n], buf[n:]
    return out
def message():
    fixed = read(16)
    body_len, serial, fields_len = struct.unpack("<III", fixed[4:16])
    rest = read(((fields_len + 7) // 8) * 8 + body_len)
    fields, pos = {}, 0
    while pos < fields_len:
        pos = (pos + 7) // 8 * 8
        code, n = rest[pos], rest[pos + 1]
        sig = rest[pos + 2:pos + 2 + n].decode(); pos += 3 + n
        if sig in "os":
            pos = (pos + 3) // 4 * 4
            ln = struct.unpack("<I", rest[pos:pos + 4])[0]; fields[code] = rest[pos + 4:pos + 4 + ln].decode(); pos += 5 + ln
        elif sig == "g":
            ln = rest[pos]; fields[code] = rest[pos + 1:pos + 1 + ln].decode(); pos += 2 + ln
        else:
            pos = (pos + 3) // 4 * 4
            fields[code] = struct.unpack("<I", rest[pos:pos + 4])[0]; pos += 4
    body = rest[((fields_len + 7) // 8) * 8:]
    return fixed[1], fields, body
s.sendall(call(1, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", "", b""))
s.sendall(call(2, a["destination"], a["path"], a["interface"], a["member"], a["signature"], bytes.fromhex(a["bodyHex"])))
try:
    while True:
        kind, fields, body = message()
        if fields.get(5) != 2: continue
        out = {"type": {2: "return", 3: "error"}.get(kind, kind)}
        if kind == 3:
            out["name"] = fields.get(4)
            ln = struct.unpack("<I", body[:4])[0] if len(body) >= 4 else 0
            out["message"] = body[4:4 + ln].decode(errors="replace")
        print(json.dumps(out)); break
except (socket.timeout, EOFError) as e:
    print(json.dumps({"type": "none", "why": type(e).__name__}))
`;

export interface RawCall {
  address: string;
  destination: string;
  path: string;
  interface?: string;
  member: string;
  signature: string;
  /** The marshalled body, little-endian, as hex. */
  bodyHex: string;
  timeoutSeconds?: number;
}

export type RawReply = { type: 'return' } | { type: 'error'; name: string; message: string } | { type: 'none'; why: string };

export async function rawCallAs(user: TestUser | 'root', call: RawCall): Promise<RawReply> {
  const args = JSON.stringify({ timeoutSeconds: 20, interface: '', ...call });
  const result = await runAsUser(user, ['/usr/bin/python3', '-c', RAW_CALL, args]);
  const last = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as RawReply;
  } catch {
    throw new Error(`raw call printed no JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
  }
}
