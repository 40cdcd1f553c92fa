# A FUSE file system whose server can stop answering, driven by
# test/helpers/hanging-fuse.ts (which documents what it serves). Lines on
# stdin: "hang" holds back every request but FLUSH and RELEASE from then on,
# "hang-all" holds those too, "hang-op OP" holds requests of OP only,
# "release" answers everything again, "release-held" answers the requests
# held so far but keeps holding new ones; each command is echoed once it
# took effect. A held request prints
# "held OP PATH" and is answered anyway after HOLD_LIMIT seconds, so no
# process waits on this server for longer than that, whatever the test does.
import errno
import os
import stat
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations

mountpoint, backing, uid, gid, hold_limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
flags = set(sys.argv[6:])
default_permissions = "default_permissions" in flags
# image.img takes writes (into the backing file); the directories stay read-only.
writable = "writable" in flags
# The foreign range's root (2147352576), which owns portable homes and container trees.
FOREIGN_ROOT = 2147352576
DIRS = {"/": (0, 0), "/dir": (uid, gid), "/dir/sub": (uid, gid), "/dir/foreign": (FOREIGN_ROOT, FOREIGN_ROOT)}
LISTS = {"/": ["dir", "image.img"], "/dir": ["sub", "foreign"], "/dir/sub": [], "/dir/foreign": []}
# Closing a file sends FLUSH, and every process that ever held the fd
# closes it: the caller, the bus daemon that passed it on, the test itself.
CLOSES = {"flush", "release", "releasedir"}

lock = threading.Lock()
answered = threading.Condition(lock)
holding = {"mode": None, "op": None, "tickets": 0, "released": 0}  # mode: None, "hang", "hang-all" or "hang-op"


def say(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def must_hold(op, ticket):
    mode = holding["mode"]
    if ticket <= holding["released"]:
        return False
    if mode == "hang-op":
        return op == holding["op"]
    return mode == "hang-all" or (mode == "hang" and op not in CLOSES)


class Hanging(Operations):
    def __call__(self, op, *args):
        with lock:
            holding["tickets"] += 1
            ticket = holding["tickets"]
            if must_hold(op, ticket):
                sys.stdout.write("held %s %s\n" % (op, args[0] if args else ""))
                sys.stdout.flush()
                deadline = time.monotonic() + hold_limit
                while must_hold(op, ticket) and time.monotonic() < deadline:
                    answered.wait(deadline - time.monotonic())
                if must_hold(op, ticket):
                    sys.stdout.write("gave-up %s\n" % op)
                    sys.stdout.flush()
        return super().__call__(op, *args)

    def getattr(self, path, fh=None):
        now = time.time()
        times = dict(st_atime=now, st_mtime=now, st_ctime=now)
        if path in DIRS:
            owner, group = DIRS[path]
            return dict(st_mode=stat.S_IFDIR | 0o755, st_nlink=2, st_uid=owner, st_gid=group, st_size=0, **times)
        if path == "/image.img":
            size = os.stat(backing).st_size
            return dict(st_mode=stat.S_IFREG | (0o664 if writable else 0o644), st_nlink=1, st_uid=uid, st_gid=gid, st_size=size, **times)
        raise FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return [".", ".."] + LISTS[path]

    def open(self, path, flags):
        return 0

    def read(self, path, size, offset, fh):
        with open(backing, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def write(self, path, data, offset, fh):
        if not writable or path != "/image.img":
            raise FuseOSError(errno.EROFS)
        with open(backing, "r+b") as f:
            f.seek(offset)
            return f.write(data)

    def truncate(self, path, length, fh=None):
        if not writable or path != "/image.img":
            raise FuseOSError(errno.EROFS)
        os.truncate(backing, length)

    def fsync(self, path, datasync, fh):
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return 0

    def statfs(self, path):
        return dict(f_bsize=4096, f_frsize=4096, f_blocks=0, f_bfree=0, f_bavail=0, f_namemax=255)


def control():
    for line in sys.stdin:
        word = line.strip()
        with lock:
            if word == "release-held":
                holding["released"] = holding["tickets"]
            elif word.startswith("hang-op "):
                holding["mode"], holding["op"] = "hang-op", word.split(" ", 1)[1]
            else:
                holding["mode"] = word if word in ("hang", "hang-all") else None
            answered.notify_all()
        say(word)
    with lock:
        holding["mode"] = None
        answered.notify_all()


threading.Thread(target=control, daemon=True).start()
say("ready")
# Timeouts 0: the kernel asks the server whenever it may, so anything that
# is not served from cache reaches the server and can be held. With
# default_permissions the kernel checks permissions itself, from attributes
# it refreshes first (GETATTR), on every directory a path walk passes.
options = dict(default_permissions=True) if default_permissions else {}
FUSE(Hanging(), mountpoint, foreground=True, allow_other=True, ro=not writable,
     attr_timeout=0, entry_timeout=0, negative_timeout=0, fsname="nsmtest-hanging", **options)
