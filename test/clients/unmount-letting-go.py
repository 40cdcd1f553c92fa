# Unmount(fd 3, {}) on nsmountd at argv[1], keeping no copy of the fd once
# the call is sent: so the daemon's copy is the mount's last reference when
# it is done, and whatever the kernel does when that goes (a read-write
# file system writes back) happens in the daemon. Prints one JSON line:
# {"ok": true} or {"ok": false, "name": ..., "message": ...}.
import json
import os
import sys

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
manager = dbus.Interface(bus.get_object("org.nsmount.NsMount1", "/org/nsmount/NsMount1"), "org.nsmount.NsMount1.Manager")
loop = GLib.MainLoop()
result = {}


def done(answer):
    result.update(answer)
    loop.quit()


mount_point = dbus.types.UnixFd(3)  # a dup of fd 3
os.close(3)
manager.Unmount(
    mount_point,
    dbus.Dictionary({}, signature="sv"),
    reply_handler=lambda: done({"ok": True}),
    error_handler=lambda e: done({"ok": False, "name": e.get_dbus_name(), "message": e.get_dbus_message()}),
    timeout=60,
)
del mount_point  # the message keeps its own copy until it is written
GLib.timeout_add_seconds(60, lambda: done({"ok": False, "name": "client", "message": "no reply within 60 s"}))
loop.run()
print(json.dumps(result), flush=True)
