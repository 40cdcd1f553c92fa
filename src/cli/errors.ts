// Every failure nsmountctl reports is one sentence in the user's terms,
// ideally with what to do about it: the flag they typed rather than the
// D-Bus option behind it, an errno as words. Nothing here ever prints a
// stack trace.
import util from 'node:util';
import { FdPassingUnavailable } from '../bus/connection';
import { SystemError } from '../errors';
import {
  AlreadyMounted,
  Exists,
  InteractiveAuthorizationRequired,
  NameExists,
  NotAuthorized,
  NotAuthorizedCanObtain,
  NotAuthorizedDismissed,
  NotEmpty,
  NotFound,
  NotOwner,
  NsMountDBusError,
  QuotaExceeded,
  RangeExhausted,
  ServiceUnavailable,
} from '../client/errors';
import { ACTIONS, type ActionId } from '../polkit/actions';

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
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** What --json prints for a failure, and what the text line is made of. */
export interface DescribedError {
  /** The D-Bus error name when nsmountd refused, else nsmountctl's own kind. */
  error: string;
  message: string;
  hint?: string;
}

const ACTION_PHRASES: Record<ActionId, string> = {
  [ACTIONS.allocateUserNamespace]: 'allocate user namespaces',
  [ACTIONS.makeDirectory]: 'create foreign-owned directories',
  [ACTIONS.idmapDirectory]: 'idmap directories',
  [ACTIONS.idmapDirectoryUntrusted]: 'idmap directories it cannot vouch for',
  [ACTIONS.unmountOthers]: "unmount other users' mounts",
  [ACTIONS.mountImage]: 'mount images',
  [ACTIONS.mountImageUntrusted]: 'mount untrusted images',
};

// Why the daemon needs the stronger action, in the user's terms.
const ACTION_REASONS: Partial<Record<ActionId, string>> = {
  [ACTIONS.mountImageUntrusted]:
    'the image is untrusted: only a root-owned image, not writable by others, in one of the image directories of nsmountd.conf is trusted, and --options always needs this action',
  [ACTIONS.idmapDirectoryUntrusted]:
    'the directory is neither yours nor a foreign-owned one below a directory of yours',
};

const systemErrors = util.getSystemErrorMap();
const errnoWords = new Map<string, string>([...systemErrors.values()].map(([name, text]) => [name, text]));

/** "EROFS" -> "read-only file system"; unknown names stay as they are. */
export function errnoText(code: string): string {
  return errnoWords.get(code) ?? code;
}

/** Replaces bare errno names in a daemon's message with their meaning. */
function withErrnoWords(message: string): string {
  return message.replace(/\bE[A-Z0-9]{2,}\b/g, (code) => errnoText(code));
}

function actionOf(message: string): string | undefined {
  return /\b(org\.nsmount\.[a-z-]+)/.exec(message)?.[1];
}

export interface ErrorContext {
  address: string;
  /** D-Bus argument names ("options.AttachTo") -> what the user typed ("--attach ~/mnt"). */
  argumentNames?: Record<string, string>;
}

/** A daemon message starts with the D-Bus argument it is about: say the flag instead. */
function inUserTerms(message: string, ctx: ErrorContext): string {
  const m = /^((?:options\.)?[A-Za-z_]+): /.exec(message);
  let text = message;
  if (m) {
    const named = ctx.argumentNames?.[m[1]];
    if (named !== undefined) text = `${named}: ${message.slice(m[0].length)}`;
    else if (m[1].startsWith('options.')) text = message.slice(m[0].length);
  }
  return withErrnoWords(text);
}

function describeDBusError(err: NsMountDBusError, ctx: ErrorContext): DescribedError {
  const error = err.dbusName;
  const action = actionOf(err.message);
  const phrase = action ? (ACTION_PHRASES[action as ActionId] ?? `use ${action}`) : 'do this';
  const reason = action ? ACTION_REASONS[action as ActionId] : undefined;
  const message = inUserTerms(err.message, ctx);
  if (err instanceof InteractiveAuthorizationRequired) {
    return {
      error,
      message: `authentication is needed to ${phrase}${reason ? ` (${reason})` : ''}`,
      hint: `run again with --interactive under a polkit agent, or have an administrator add a polkit rule for ${action ?? 'the action'}`,
    };
  }
  // Before NotAuthorized: both are NotAuthorized too, but the user can do something else about them.
  if (err instanceof NotAuthorizedCanObtain) {
    return {
      error,
      message: `authentication is needed to ${phrase}${reason ? ` (${reason})` : ''}, but nobody was there to ask for a password`,
      hint: 'run it from a desktop session, or start a polkit agent in this terminal first (pkttyagent)',
    };
  }
  if (err instanceof NotAuthorizedDismissed) {
    return { error, message: 'the authentication dialog was closed, so nothing was done', hint: 'run it again to be asked once more' };
  }
  if (err instanceof NotAuthorized) {
    if (!action) return { error, message: `not authorized: ${message}` };
    return {
      error,
      message: `not authorized to ${phrase}${reason ? ` (${reason})` : ''}`,
      hint: `an administrator can allow it with a polkit rule for ${action}`,
    };
  }
  if (err instanceof ServiceUnavailable) {
    return {
      error,
      message: `nsmountd is not running on the bus at ${ctx.address}`,
      hint: 'start it (e.g. "systemctl start nsmountd") or pass --address',
    };
  }
  if (err instanceof QuotaExceeded) return { error, message, hint: 'close namespaces you no longer need ("nsmountctl status" lists them)' };
  if (err instanceof RangeExhausted) return { error, message, hint: 'every uid range of the pool is in use; try again later' };
  if (err instanceof NameExists || err instanceof Exists) return { error, message, hint: 'choose a name that does not exist yet' };
  if (err instanceof NotOwner) return { error, message, hint: 'use a directory that belongs to you' };
  if (err instanceof NotEmpty) return { error, message, hint: 'attach at an empty directory' };
  if (err instanceof AlreadyMounted) return { error, message, hint: 'unmount it first with "nsmountctl unmount"' };
  if (err instanceof NotFound) return { error, message, hint: '"nsmountctl status" lists your attachments' };
  if (error.startsWith('org.nsmount.')) return { error, message };
  return { error, message: `D-Bus call failed: ${message}` };
}

const CONNECT_ERRNOS = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTDIR', 'ECONNRESET', 'EPIPE']);

/** Any error, shaped for a person (and for --json). */
export function describeError(err: unknown, ctx: ErrorContext): DescribedError {
  if (err instanceof UsageError) return { error: 'nsmountctl.UsageError', message: err.message };
  if (err instanceof CliError) return { error: 'nsmountctl.Failed', message: err.message, hint: err.hint };
  if (err instanceof NsMountDBusError) return describeDBusError(err, ctx);
  if (err instanceof FdPassingUnavailable) return { error: 'nsmountctl.FdPassingUnavailable', message: err.message };
  if (err instanceof SystemError) return { error: err.dbusName, message: withErrnoWords(err.message) };
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && e.syscall === 'connect' && CONNECT_ERRNOS.has(e.code)) {
    return {
      error: 'nsmountctl.BusUnreachable',
      message: `cannot connect to the D-Bus system bus at ${ctx.address} (${errnoText(e.code)})`,
      hint: 'is the bus running? pass --address to use another one',
    };
  }
  if (e && typeof e.code === 'string' && typeof e.path === 'string') {
    if (e.code === 'ENOENT') return { error: 'nsmountctl.Failed', message: `${e.path} does not exist` };
    if (e.code === 'ENOTDIR') return { error: 'nsmountctl.Failed', message: `${e.path} is not a directory` };
    return { error: 'nsmountctl.Failed', message: `${e.path}: ${errnoText(e.code)}` };
  }
  if (e instanceof Error) return { error: 'nsmountctl.Failed', message: withErrnoWords(e.message.split('\n')[0]) };
  return { error: 'nsmountctl.Failed', message: String(err) };
}

/** The one-line text form: "message: hint". */
export function errorLine(d: DescribedError): string {
  return d.hint ? `${d.message}: ${d.hint}` : d.message;
}
