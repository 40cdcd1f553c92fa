// Every failure nsmountctl reports is one sentence, ideally with what to do
// about it. Nothing here ever prints a stack trace.
import { FdPassingUnavailable } from '../bus/connection';
import { SystemError } from '../errors';
import {
  AlreadyMounted,
  Exists,
  InteractiveAuthorizationRequired,
  NameExists,
  NotAuthorized,
  NotEmpty,
  NotFound,
  NotOwner,
  NsMountDBusError,
  QuotaExceeded,
  RangeExhausted,
  ServiceUnavailable,
} from '../client/errors';

/** Bad command line: exit status 2, like most tools. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

/** A failure already phrased for the user. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const ACTION_PHRASES: Record<string, string> = {
  'org.nsmount.allocate-user-namespace': 'allocate user namespaces',
  'org.nsmount.make-directory': 'create foreign-owned directories',
  'org.nsmount.idmap-directory': 'idmap directories',
  'org.nsmount.idmap-directory-untrusted': 'idmap directories it cannot vouch for',
  'org.nsmount.unmount-others': "unmount other users' mounts",
  'org.nsmount.mount-image': 'mount images',
  'org.nsmount.mount-image-untrusted': 'mount untrusted images',
};

function actionOf(message: string): string | undefined {
  return /\b(org\.nsmount\.[a-z-]+)/.exec(message)?.[1];
}

export interface ErrorContext {
  address: string;
}

function describeDBusError(err: NsMountDBusError, ctx: ErrorContext): string {
  const action = actionOf(err.message);
  const phrase = action ? (ACTION_PHRASES[action] ?? `use ${action}`) : 'do this';
  if (err instanceof InteractiveAuthorizationRequired) {
    return `authentication is needed to ${phrase}: run again with --interactive under a polkit agent, or have an administrator add a polkit rule for ${action ?? 'the action'}`;
  }
  if (err instanceof NotAuthorized) {
    if (!action) return `not authorized: ${err.message}`;
    return `not authorized to ${phrase}: an administrator can allow it with a polkit rule for ${action}`;
  }
  if (err instanceof ServiceUnavailable) {
    return `nsmountd is not running on the bus at ${ctx.address}: start it (e.g. "systemctl start nsmountd") or pass --address`;
  }
  if (err instanceof QuotaExceeded) return `${err.message}: close namespaces you no longer need (nsmountctl status lists them)`;
  if (err instanceof RangeExhausted) return `${err.message}: every uid range of the pool is in use; try again later`;
  if (err instanceof NameExists || err instanceof Exists) return `${err.message}: choose a name that does not exist yet`;
  if (err instanceof NotOwner) return `${err.message}: use a directory that belongs to you`;
  if (err instanceof NotEmpty) return `${err.message}: attach at an empty directory`;
  if (err instanceof AlreadyMounted) return `${err.message}: unmount it first with "nsmountctl unmount"`;
  if (err instanceof NotFound) return `${err.message} ("nsmountctl status" lists your attachments)`;
  if (err.dbusName.startsWith('org.nsmount.')) return err.message;
  return `D-Bus call failed (${err.dbusName}): ${err.message}`;
}

const CONNECT_ERRNOS = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTDIR', 'ECONNRESET', 'EPIPE']);

/** One line for any error, shaped for a person. */
export function describeError(err: unknown, ctx: ErrorContext): string {
  if (err instanceof CliError || err instanceof UsageError) return err.message;
  if (err instanceof NsMountDBusError) return describeDBusError(err, ctx);
  if (err instanceof FdPassingUnavailable) return `${err.message}`;
  if (err instanceof SystemError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && e.syscall === 'connect' && CONNECT_ERRNOS.has(e.code)) {
    return `cannot connect to the D-Bus system bus at ${ctx.address} (${e.code}): is the bus running? pass --address to use another one`;
  }
  if (e && typeof e.code === 'string' && typeof e.path === 'string') {
    if (e.code === 'ENOENT') return `${e.path} does not exist`;
    if (e.code === 'EACCES') return `${e.path}: permission denied`;
    if (e.code === 'ENOTDIR') return `${e.path}: not a directory`;
    return `${e.path}: ${e.code}`;
  }
  if (e instanceof Error) return e.message.split('\n')[0];
  return String(err);
}
