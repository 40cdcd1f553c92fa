// D-Bus errors as classes, so callers can `instanceof` instead of comparing
// strings. Every class keeps the D-Bus name in `dbusName`.
export const NSMOUNT_ERROR_PREFIX = 'org.nsmount.NsMount1.Error.';

/** Any error reply; subclasses below for the names nsmountd documents. */
export class NsMountDBusError extends Error {
  constructor(
    readonly dbusName: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidArgument extends NsMountDBusError {}
export class NotAuthorized extends NsMountDBusError {}
/** Authentication would do, but no polkit agent was there to ask; still a NotAuthorized. */
export class NotAuthorizedCanObtain extends NotAuthorized {}
/** The person closed the authentication dialog; still a NotAuthorized. */
export class NotAuthorizedDismissed extends NotAuthorized {}
export class QuotaExceeded extends NsMountDBusError {}
export class RangeExhausted extends NsMountDBusError {}
export class NameExists extends NsMountDBusError {}
export class BadFileDescriptor extends NsMountDBusError {}
export class NotSupported extends NsMountDBusError {}
export class NotOwner extends NsMountDBusError {}
export class NotEmpty extends NsMountDBusError {}
export class AlreadyMounted extends NsMountDBusError {}
export class WrongNamespace extends NsMountDBusError {}
export class Exists extends NsMountDBusError {}
export class NotFound extends NsMountDBusError {}
export class BadImage extends NsMountDBusError {}
export class UnsupportedFileSystem extends NsMountDBusError {}
export class NoMountablePartition extends NsMountDBusError {}
export class Unavailable extends NsMountDBusError {}
export class SystemFailure extends NsMountDBusError {}
/** polkit wants authentication and the call did not allow interaction. */
export class InteractiveAuthorizationRequired extends NsMountDBusError {}
/** Nobody owns org.nsmount.NsMount1 and the bus could not start it. */
export class ServiceUnavailable extends NsMountDBusError {}

type ErrorClass = new (dbusName: string, message: string) => NsMountDBusError;

const BY_NAME: Record<string, ErrorClass> = {
  [`${NSMOUNT_ERROR_PREFIX}InvalidArgument`]: InvalidArgument,
  [`${NSMOUNT_ERROR_PREFIX}NotAuthorized`]: NotAuthorized,
  [`${NSMOUNT_ERROR_PREFIX}NotAuthorizedCanObtain`]: NotAuthorizedCanObtain,
  [`${NSMOUNT_ERROR_PREFIX}NotAuthorizedDismissed`]: NotAuthorizedDismissed,
  [`${NSMOUNT_ERROR_PREFIX}QuotaExceeded`]: QuotaExceeded,
  [`${NSMOUNT_ERROR_PREFIX}RangeExhausted`]: RangeExhausted,
  [`${NSMOUNT_ERROR_PREFIX}NameExists`]: NameExists,
  [`${NSMOUNT_ERROR_PREFIX}BadFileDescriptor`]: BadFileDescriptor,
  [`${NSMOUNT_ERROR_PREFIX}NotSupported`]: NotSupported,
  [`${NSMOUNT_ERROR_PREFIX}NotOwner`]: NotOwner,
  [`${NSMOUNT_ERROR_PREFIX}NotEmpty`]: NotEmpty,
  [`${NSMOUNT_ERROR_PREFIX}AlreadyMounted`]: AlreadyMounted,
  [`${NSMOUNT_ERROR_PREFIX}WrongNamespace`]: WrongNamespace,
  [`${NSMOUNT_ERROR_PREFIX}Exists`]: Exists,
  [`${NSMOUNT_ERROR_PREFIX}NotFound`]: NotFound,
  [`${NSMOUNT_ERROR_PREFIX}BadImage`]: BadImage,
  [`${NSMOUNT_ERROR_PREFIX}UnsupportedFileSystem`]: UnsupportedFileSystem,
  [`${NSMOUNT_ERROR_PREFIX}NoMountablePartition`]: NoMountablePartition,
  [`${NSMOUNT_ERROR_PREFIX}Unavailable`]: Unavailable,
  [`${NSMOUNT_ERROR_PREFIX}System`]: SystemFailure,
  'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired': InteractiveAuthorizationRequired,
  'org.freedesktop.DBus.Error.ServiceUnknown': ServiceUnavailable,
  'org.freedesktop.DBus.Error.NameHasNoOwner': ServiceUnavailable,
};

export function errorFromDBus(dbusName: string | undefined, message: string): NsMountDBusError {
  const name = dbusName ?? 'org.freedesktop.DBus.Error.Failed';
  const Class = BY_NAME[name] ?? NsMountDBusError;
  return new Class(name, message);
}
