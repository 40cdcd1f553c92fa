// Where "the system bus" is when nobody says: kept apart from connection.ts
// so that code which only needs the address loads neither dbus-next nor
// the native library.
export const SYSTEM_BUS_DEFAULT_ADDRESS = 'unix:path=/run/dbus/system_bus_socket';

/** An explicit address, else $DBUS_SYSTEM_BUS_ADDRESS, else the standard socket. */
export function resolveBusAddress(explicit?: string): string {
  return explicit || process.env.DBUS_SYSTEM_BUS_ADDRESS || SYSTEM_BUS_DEFAULT_ADDRESS;
}
