// One hierarchy for every failure a caller can see. Each class carries the
// D-Bus error name it maps to; the dispatcher sends `dbusName` and `message`
// and nothing else, so no stack trace ever reaches a caller.
import { errnoName } from './native/errno';
import { errnoWords } from './errno-words';

export const ERROR_PREFIX = 'org.nsmount.NsMount1.Error.';

export class NsMountError extends Error {
  /** Full D-Bus error name. */
  readonly dbusName: string;

  constructor(shortOrFullName: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.dbusName = shortOrFullName.includes('.') ? shortOrFullName : ERROR_PREFIX + shortOrFullName;
  }
}

/** An argument or option key is malformed; `argument` names it (e.g. "name", "options.Mode"). */
export class InvalidArgument extends NsMountError {
  constructor(readonly argument: string, reason: string) {
    super('InvalidArgument', `${argument}: ${reason}`);
  }
}

/** Refused: by policy, by a failed authentication, or because polkit could not be asked. */
export class NotAuthorized extends NsMountError {
  constructor(message: string) {
    super('NotAuthorized', message);
  }
}

/** Authentication would have granted it, but no authentication agent was there to ask (udisks2's name). */
export class NotAuthorizedCanObtain extends NsMountError {
  constructor(message: string) {
    super('NotAuthorizedCanObtain', message);
  }
}

/** The person closed the authentication dialog (udisks2's name). */
export class NotAuthorizedDismissed extends NsMountError {
  constructor(message: string) {
    super('NotAuthorizedDismissed', message);
  }
}

/** polkit answered with a challenge and the caller did not allow interactive authorization. */
export class InteractiveAuthorizationRequired extends NsMountError {
  constructor(message: string) {
    super('org.freedesktop.DBus.Error.InteractiveAuthorizationRequired', message);
  }
}

export class QuotaExceeded extends NsMountError {
  constructor(message: string) {
    super('QuotaExceeded', message);
  }
}

export class RangeExhausted extends NsMountError {
  constructor(message: string) {
    super('RangeExhausted', message);
  }
}

export class NameExists extends NsMountError {
  constructor(message: string) {
    super('NameExists', message);
  }
}

/** A passed fd is of the wrong kind; `argument` names it and the message says what was received. */
export class BadFileDescriptor extends NsMountError {
  constructor(readonly argument: string, reason: string) {
    super('BadFileDescriptor', `${argument}: ${reason}`);
  }
}

export class NotSupported extends NsMountError {
  constructor(message: string) {
    super('NotSupported', message);
  }
}

export class NotOwner extends NsMountError {
  constructor(message: string) {
    super('NotOwner', message);
  }
}

export class NotEmpty extends NsMountError {
  constructor(message: string) {
    super('NotEmpty', message);
  }
}

export class AlreadyMounted extends NsMountError {
  constructor(message: string) {
    super('AlreadyMounted', message);
  }
}

export class WrongNamespace extends NsMountError {
  constructor(message: string) {
    super('WrongNamespace', message);
  }
}

export class Exists extends NsMountError {
  constructor(message: string) {
    super('Exists', message);
  }
}

export class NotFound extends NsMountError {
  constructor(message: string) {
    super('NotFound', message);
  }
}

export class BadImage extends NsMountError {
  constructor(message: string) {
    super('BadImage', message);
  }
}

export class UnsupportedFileSystem extends NsMountError {
  constructor(message: string) {
    super('UnsupportedFileSystem', message);
  }
}

export class NoMountablePartition extends NsMountError {
  constructor(message: string) {
    super('NoMountablePartition', message);
  }
}

/** The daemon is shutting down or otherwise cannot take the call now. */
export class Unavailable extends NsMountError {
  constructor(message: string) {
    super('Unavailable', message);
  }
}

/**
 * An errno with no more specific meaning. `message` is for the daemon's log
 * (operation and errno name); a caller gets `forPerson` instead.
 */
export class SystemError extends NsMountError {
  readonly errno: number;
  readonly code: string;
  /** What nsmountd was doing, phrased to follow "could not", e.g. "save its records". */
  readonly task: string;

  constructor(errno: number, operation: string, opts: { task?: string } = {}) {
    const code = errnoName(errno);
    super('System', `${operation}: ${code}`);
    this.errno = Math.abs(errno);
    this.code = code;
    this.task = opts.task ?? 'complete the request';
  }

  /** The reply's message: the errno in words, no syscall or errno name. */
  get forPerson(): string {
    return `nsmountd could not ${this.task}, because ${errnoWords(this.code)}. If it keeps happening, ask your administrator to look at the nsmountd log.`;
  }
}
