// One hierarchy for every failure a caller can see. Each class carries the
// D-Bus error name it maps to; the dispatcher sends `dbusName` and `message`
// and nothing else, so no stack trace ever reaches a caller.
import { errnoName } from './native/errno';
import { errnoWords } from './errno-words';

export const ERROR_PREFIX = 'org.nsmount.NsMount1.Error.';

/**
 * Every subclass names its D-Bus error once, in a static `dbusName`;
 * test/errors.test.ts checks each against the contract's list of errors.
 */
export class NsMountError extends Error {
  /** Full D-Bus error name. */
  readonly dbusName: string;

  /** `dbusName` only re-sends an error under its own name with another message (methods/argument-errors.ts). */
  constructor(message: string, dbusName?: string) {
    super(message);
    this.name = new.target.name;
    const name = dbusName ?? (new.target as { dbusName?: string }).dbusName;
    if (name === undefined) throw new TypeError(`${new.target.name} has no D-Bus error name`);
    this.dbusName = name;
  }
}

/** An argument or option key is malformed; `argument` names it (e.g. "name", "options.Mode"). */
export class InvalidArgument extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}InvalidArgument`;

  constructor(readonly argument: string, reason: string) {
    super(`${argument}: ${reason}`);
  }
}

/** Refused: by policy, by a failed authentication, or because polkit could not be asked. */
export class NotAuthorized extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}NotAuthorized`;
}

/** Authentication would have granted it, but no authentication agent was there to ask (udisks2's name). */
export class NotAuthorizedCanObtain extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}NotAuthorizedCanObtain`;
}

/** The person closed the authentication dialog (udisks2's name). */
export class NotAuthorizedDismissed extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}NotAuthorizedDismissed`;
}

/** polkit answered with a challenge and the caller did not allow interactive authorization. */
export class InteractiveAuthorizationRequired extends NsMountError {
  static readonly dbusName = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired';
}

export class QuotaExceeded extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}QuotaExceeded`;
}

export class RangeExhausted extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}RangeExhausted`;
}

export class NameExists extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}NameExists`;
}

/** A passed fd is of the wrong kind; `argument` names it and the message says what was received. */
export class BadFileDescriptor extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}BadFileDescriptor`;

  constructor(readonly argument: string, reason: string) {
    super(`${argument}: ${reason}`);
  }
}

export class NotSupported extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}NotSupported`;
}

export class NotOwner extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}NotOwner`;
}

export class NotEmpty extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}NotEmpty`;
}

export class AlreadyMounted extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}AlreadyMounted`;
}

export class WrongNamespace extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}WrongNamespace`;
}

export class Exists extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}Exists`;
}

export class NotFound extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}NotFound`;
}

export class BadImage extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}BadImage`;
}

export class UnsupportedFileSystem extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}UnsupportedFileSystem`;
}

export class NoMountablePartition extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}NoMountablePartition`;
}

/** The daemon is shutting down or otherwise cannot take the call now. */
export class Unavailable extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}Unavailable`;
}

/**
 * An errno with no more specific meaning. `message` is for the daemon's log
 * (operation and errno name); a caller gets `forPerson` instead.
 */
export class SystemError extends NsMountError {
  static readonly dbusName = `${ERROR_PREFIX}System`;
  readonly errno: number;
  readonly code: string;
  /** What nsmountd was doing, phrased to follow "could not", e.g. "save its records". */
  readonly task: string;

  constructor(errno: number, operation: string, opts: { task?: string } = {}) {
    const code = errnoName(errno);
    super(`${operation}: ${code}`);
    this.errno = Math.abs(errno);
    this.code = code;
    this.task = opts.task ?? 'complete the request';
  }

  /** The reply's message: the errno in words, no syscall or errno name. */
  get forPerson(): string {
    return `nsmountd could not ${this.task}, because ${errnoWords(this.code)}. If it keeps happening, ask your administrator to look at the nsmountd log.`;
  }
}
