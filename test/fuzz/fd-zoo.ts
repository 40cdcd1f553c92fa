// Node cannot make pipes, socketpairs, memfds, eventfds, pidfds or epoll fds,
// so the fuzz client is started through a short Python prologue that makes
// them as the test user, marks them inheritable and execs Node with their
// numbers in NSM_FUZZ_FDS (merged with the root-opened fds already there).
import fs from 'node:fs';

/** The distribution's interpreter: pyenv shims under /root are unreachable for test users. */
export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export const FD_ZOO_PROLOGUE = String.raw`
import json, os, select, socket, sys
fds = json.loads(os.environ.get('NSM_FUZZ_FDS', '{}'))
def keep(kind, fd):
    os.set_inheritable(fd, True)
    fds[kind] = fd
r, w = os.pipe()
keep('pipe-read', r); keep('pipe-write', w)
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
keep('socket-unix-stream', a.detach()); b.detach()
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
keep('socket-unix-dgram', d.detach())
keep('socket-inet', socket.socket(socket.AF_INET, socket.SOCK_STREAM).detach())
keep('socket-netlink', socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).detach())
token = os.environ.get('NSM_FUZZ_TOKEN', 'nsmfuzz')
m = os.memfd_create(token + '-plain', 0)
os.write(m, b'not an image\n' * 64)
keep('memfd', m)
mi = os.memfd_create(token + '-image', 0)
with open(os.environ['NSM_FUZZ_MEMFD_IMAGE'], 'rb') as f:
    while True:
        chunk = f.read(1 << 20)
        if not chunk:
            break
        os.write(mi, chunk)
keep('memfd-image', mi)
keep('eventfd', os.eventfd(0))
keep('pidfd', os.pidfd_open(os.getpid()))
ep = select.epoll()
keep('epoll', os.dup(ep.fileno()))
os.environ['NSM_FUZZ_FDS'] = json.dumps(fds)
os.execv(sys.argv[1], sys.argv[1:])
`;
