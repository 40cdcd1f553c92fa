# A D-Bus peer that writes its messages byte by byte, for what no library
# composes: odd types and flags, unknown header fields, big-endian bodies,
# fds attached to signals, bodies of any size. Reads one JSON document on
# stdin: {"address", "destination", "messages": [...]}; each message has
# "label", and optionally "type" (1 call, 4 signal), "flags", "endian"
# ("B" for big-endian), "path", "interface", "member", "signature",
# "body" (values: a variant is [signature, value]), "bigArray"
# ({"unitHex", "count", "align"}: a body of one array of count copies
# of unit, elements aligned to align),
# "fds" (how many fds of /dev/null to attach), "extraFields"
# ([[code, signature, value]]). A Ping follows the messages. Prints one
# JSON line: label -> {"type": "return"|"error", "name", "message"} for
# every reply that came, and "_end" when the wait ended without all.
import array, json, os, socket, struct, sys

spec = json.load(sys.stdin)
E = '<'
ALIGN = {'y': 1, 'b': 4, 'n': 2, 'q': 2, 'i': 4, 'u': 4, 'x': 8, 't': 8, 'd': 8, 's': 4, 'o': 4, 'g': 1, 'h': 4, 'a': 4, '(': 8, '{': 8, 'v': 1}


def end_of(sig, i):
    c = sig[i]
    if c == 'a':
        return end_of(sig, i + 1)
    if c in '({':
        close = ')' if c == '(' else '}'
        i += 1
        while sig[i] != close:
            i = end_of(sig, i)
        return i + 1
    return i + 1


def split(sig):
    out, i = [], 0
    while i < len(sig):
        j = end_of(sig, i)
        out.append(sig[i:j])
        i = j
    return out


class Writer:
    def __init__(self, base=0):
        self.b = bytearray()
        self.base = base

    def pad(self, k):
        self.b += b'\0' * ((-(self.base + len(self.b))) % k)

    def put(self, t, v):
        c = t[0]
        self.pad(ALIGN[c])
        if c == 'y':
            self.b += bytes([v])
        elif c in 'bnqiuhxtd':
            fmt = {'b': 'I', 'n': 'h', 'q': 'H', 'i': 'i', 'u': 'I', 'h': 'I', 'x': 'q', 't': 'Q', 'd': 'd'}[c]
            self.b += struct.pack(E + fmt, int(v) if c == 'b' else v)
        elif c in 'so':
            e = v.encode()
            self.b += struct.pack(E + 'I', len(e)) + e + b'\0'
        elif c == 'g':
            e = v.encode()
            self.b += bytes([len(e)]) + e + b'\0'
        elif c == 'v':
            self.put('g', v[0])
            self.put(v[0], v[1])
        elif c == 'a':
            self.b += b'\0\0\0\0'
            at = len(self.b)
            self.pad(ALIGN[t[1]])
            start = len(self.b)
            for item in (v.items() if isinstance(v, dict) else v):
                self.put(t[1:], item)
            struct.pack_into(E + 'I', self.b, at - 4, len(self.b) - start)
        else:
            for st, val in zip(split(t[1:-1]), v):
                self.put(st, val)


def marshal(serial, m):
    global E
    E = '>' if m.get('endian') == 'B' else '<'
    fields = []
    for code, key, sig in ((1, 'path', 'o'), (2, 'interface', 's'), (3, 'member', 's'), (6, 'destination', 's')):
        if m.get(key):
            fields.append((code, (sig, m[key])))
    if m.get('signature'):
        fields.append((8, ('g', m['signature'])))
    if m.get('fds'):
        fields.append((9, ('u', m['fds'])))
    fields += [(code, (sig, value)) for code, sig, value in m.get('extraFields', [])]
    header = Writer(12)
    header.put('a(yv)', fields)
    if 'bigArray' in m:
        unit = bytes.fromhex(m['bigArray']['unitHex'])
        count = m['bigArray']['count']
        # Elements aligned to 8 (structs, dict entries) start after padding.
        body = struct.pack(E + 'I', len(unit) * count) + b'\0' * ((-4) % m['bigArray'].get('align', 1)) + unit * count
    else:
        w = Writer()
        for t, v in zip(split(m.get('signature', '')), m.get('body', [])):
            w.put(t, v)
        body = bytes(w.b)
    fixed = (b'B' if E == '>' else b'l') + bytes([m.get('type', 1), m.get('flags', 0), 1]) + struct.pack(E + 'II', len(body), serial)
    out = fixed + bytes(header.b)
    return out + b'\0' * ((-len(out)) % 8) + body


sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(spec['address'].split('path=')[1].split(',')[0])
sock.settimeout(spec.get('timeoutSeconds', 20))
pending = b''


def read(n):
    global pending
    while len(pending) < n:
        data = sock.recv(65536)
        if not data:
            raise EOFError
        pending += data
    out, pending = pending[:n], pending[n:]
    return out


def auth_line(text):
    sock.sendall(text)
    got = b''
    while not got.endswith(b'\r\n'):
        got += sock.recv(1)


def receive():
    fixed = read(16)
    endian = '<' if fixed[0:1] == b'l' else '>'
    body_len, _, fields_len = struct.unpack(endian + 'III', fixed[4:16])
    rest = read(((fields_len + 7) // 8) * 8 + body_len)
    fields, pos = {}, 0
    while pos < fields_len:
        pos = (pos + 7) // 8 * 8
        code, n = rest[pos], rest[pos + 1]
        sig = rest[pos + 2:pos + 2 + n].decode()
        pos += 3 + n
        if sig in 'os':
            pos = (pos + 3) // 4 * 4
            ln = struct.unpack(endian + 'I', rest[pos:pos + 4])[0]
            fields[code] = rest[pos + 4:pos + 4 + ln].decode()
            pos += 5 + ln
        elif sig == 'g':
            ln = rest[pos]
            fields[code] = rest[pos + 1:pos + 1 + ln].decode()
            pos += 2 + ln
        else:
            pos = (pos + 3) // 4 * 4
            fields[code] = struct.unpack(endian + 'I', rest[pos:pos + 4])[0]
            pos += 4
    body = rest[((fields_len + 7) // 8) * 8:]
    text = ''
    if fixed[1] == 3 and fields.get(8, '').startswith('s'):
        ln = struct.unpack(endian + 'I', body[:4])[0]
        text = body[4:4 + ln].decode(errors='replace')
    return fixed[1], fields, text


def send(data, nfds):
    if not nfds:
        return sock.sendall(data)
    fds = [os.open('/dev/null', os.O_RDONLY) for _ in range(nfds)]
    sent = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds))])
    sock.sendall(data[sent:])
    for fd in fds:
        os.close(fd)


auth_line(b'\0AUTH EXTERNAL ' + str(os.getuid()).encode().hex().encode() + b'\r\n')
auth_line(b'NEGOTIATE_UNIX_FD\r\n')
sock.sendall(b'BEGIN\r\n')
send(marshal(1, {'path': '/org/freedesktop/DBus', 'destination': 'org.freedesktop.DBus', 'interface': 'org.freedesktop.DBus', 'member': 'Hello'}), 0)
results = {}
try:
    # Our unique name first, so that nothing else is in flight with the messages.
    while receive()[1].get(5) != 1:
        pass
    labels = {}
    messages = spec['messages'] + [{'label': 'ping', 'interface': 'org.freedesktop.DBus.Peer', 'member': 'Ping'}]
    for serial, m in enumerate(messages, start=2):
        m = {'destination': spec['destination'], 'path': '/org/nsmount/NsMount1', **m}
        send(marshal(serial, m), m.get('fds', 0))
        if m.get('type', 1) == 1 and not m.get('flags', 0) & 1:
            labels[serial] = m['label']
    while len(results) < len(labels):
        kind, fields, text = receive()
        if fields.get(5) in labels:
            reply = {'type': {2: 'return', 3: 'error'}.get(kind, kind)}
            if kind == 3:
                reply.update(name=fields.get(4), message=text)
            results[labels[fields[5]]] = reply
except (socket.timeout, EOFError, ConnectionError) as e:
    results['_end'] = type(e).__name__
print(json.dumps(results))
