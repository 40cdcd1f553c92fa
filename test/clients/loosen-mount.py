#!/usr/bin/python3
# An unprivileged caller trying to loosen the mounts nsmountd handed it.
#
#   loosen-mount.py [--userns FD | --here] [--attach] [--read REL] [--write REL] [--sub REL]... FD...
#
# It enters a user and mount namespace of its own: a fresh one like
# `unshare -Urm`, or with --userns FD setns into that one and unshare the
# mount namespace (--here stays where it is). For every mount fd it tries
# mount_setattr to clear each flag the mount has, one by one and all at
# once, on the mount and recursively, and to change its atime setting.
# With --attach it then mounts a tmpfs on /mnt (in its own namespace),
# attaches fd number i at /mnt/i, tries the same on each --sub REL below
# it, and reads and writes through it.
#
# Prints one JSON line: per fd (and sub) the flags before and after
# (statvfs), every attempt's result ("ok" or an errno name), which flags it
# managed to clear ("loosened"), and the attach/read/write results.
import argparse, ctypes, errno, json, os, sys

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
SYS_mount_setattr, SYS_move_mount = 442, 429
AT_EMPTY_PATH, AT_RECURSIVE = 0x1000, 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
ATTR = {'rdonly': 0x1, 'nosuid': 0x2, 'nodev': 0x4, 'noexec': 0x8}
MOUNT_ATTR__ATIME, MOUNT_ATTR_STRICTATIME = 0x70, 0x20
FLAGS = {'rdonly': os.ST_RDONLY, 'nosuid': os.ST_NOSUID, 'nodev': os.ST_NODEV, 'noexec': os.ST_NOEXEC,
         'relatime': os.ST_RELATIME, 'noatime': os.ST_NOATIME}


class MountAttr(ctypes.Structure):
    _fields_ = [('attr_set', ctypes.c_uint64), ('attr_clr', ctypes.c_uint64),
                ('propagation', ctypes.c_uint64), ('userns_fd', ctypes.c_uint64)]


def err_name(e):
    return errno.errorcode.get(e, str(e))


def check(r, what):
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, f'{what}: {err_name(e)}')


def enter_namespaces(args):
    if args.here:
        return
    if args.userns is not None:
        check(libc.setns(args.userns, CLONE_NEWUSER), 'setns(CLONE_NEWUSER)')
        check(libc.unshare(CLONE_NEWNS), 'unshare(CLONE_NEWNS)')
        # Become its root, as nsenter --user does: our own ids are not mapped there.
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        return
    uid, gid = os.getuid(), os.getgid()
    check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), 'unshare(CLONE_NEWUSER|CLONE_NEWNS)')
    for name, text in (('uid_map', f'0 {uid} 1'), ('setgroups', 'deny'), ('gid_map', f'0 {gid} 1')):
        with open(f'/proc/self/{name}', 'w') as f:
            f.write(text)


def flags_of(fd):
    f = os.fstatvfs(fd).f_flag
    return sorted(name for name, bit in FLAGS.items() if f & bit)


def setattr_(fd, set_bits, clr_bits, recursive):
    attr = MountAttr(set_bits, clr_bits, 0, 0)
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    r = libc.syscall(SYS_mount_setattr, fd, b'', flags, ctypes.byref(attr), ctypes.sizeof(attr))
    return 'ok' if r == 0 else err_name(ctypes.get_errno())


def attempt(fd):
    out = {'before': flags_of(fd), 'tries': {}}
    for recursive in (False, True):
        suffix = '+recursive' if recursive else ''
        for name in out['before']:
            if name in ATTR:
                out['tries'][name + suffix] = setattr_(fd, 0, ATTR[name], recursive)
        out['tries']['all' + suffix] = setattr_(fd, 0, sum(ATTR.values()), recursive)
        out['tries']['strictatime' + suffix] = setattr_(fd, MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME, recursive)
    out['after'] = flags_of(fd)
    out['loosened'] = sorted(set(out['before']) ^ set(out['after']))
    return out


def attach_and_use(i, fd, out, args):
    where = f'/mnt/{i}'
    os.mkdir(where)
    r = libc.syscall(SYS_move_mount, fd, b'', -100, where.encode(), MOVE_MOUNT_F_EMPTY_PATH)
    out['attach'] = 'ok' if r == 0 else err_name(ctypes.get_errno())
    if r != 0:
        return
    out['subs'] = {}
    for sub in args.sub:
        sub_fd = os.open(os.path.join(where, sub), os.O_PATH)
        out['subs'][sub] = attempt(sub_fd)
        os.close(sub_fd)
    if args.read:
        try:
            with open(os.path.join(where, args.read), 'rb') as f:
                out['read'] = f.read().decode(errors='replace')
        except OSError as e:
            out['read'] = err_name(e.errno)
    if args.write:
        try:
            with open(os.path.join(where, args.write), 'w') as f:
                f.write('written')
            out['write'] = 'ok'
        except OSError as e:
            out['write'] = err_name(e.errno)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--userns', type=int)
    p.add_argument('--here', action='store_true')
    p.add_argument('--attach', action='store_true')
    p.add_argument('--read')
    p.add_argument('--write')
    p.add_argument('--sub', action='append', default=[])
    p.add_argument('fds', type=int, nargs='+')
    args = p.parse_args()
    try:
        enter_namespaces(args)
        if args.attach:
            check(libc.mount(b'tmpfs', b'/mnt', b'tmpfs', 0, None), 'mount tmpfs on /mnt')
    except OSError as e:
        print(json.dumps({'error': str(e)}))
        return 1
    results = []
    for i, fd in enumerate(args.fds):
        out = attempt(fd)
        out['fd'] = fd
        if args.attach:
            attach_and_use(i, fd, out, args)
        results.append(out)
    print(json.dumps({'fds': results}))
    return 0


sys.exit(main())
