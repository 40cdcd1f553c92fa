// The names the daemon serves under and a client calls, in one place for
// both (the client re-exports them). Loads nothing, so any side can import it.
export const BUS_NAME = 'org.nsmount.NsMount1';
export const OBJECT_PATH = '/org/nsmount/NsMount1';
export const MANAGER_INTERFACE = 'org.nsmount.NsMount1.Manager';
/** D-Bus header flag; dbus-next has no constant for it. */
export const ALLOW_INTERACTIVE_AUTHORIZATION = 0x4;
