// One log line per call: who asked, what polkit said, how it ended and
// how long it took. The reply may leave out technical detail (operation
// and errno name) that this line keeps. Every change and every refusal or
// failure is logged at info, the audit trail; a read that succeeded only at
// debug: building and writing the line cost about a sixth of a List call's
// CPU, and such a call leaves nothing behind to account for.
import type { Logger } from 'pino';
import { NsMountError, SystemError } from '../errors';
import { BusError } from './bus-error';
import { INTERNAL_ERROR_TEXT } from './reply-guard';

export interface CallLog {
  method: string;
  started: bigint;
  uid?: number;
  pid?: number;
  action?: string;
  polkit?: string;
  /** The method only reads (see MethodDefinition.readsOnly). */
  readsOnly?: boolean;
}

export function logCall(logger: Logger, log: CallLog, outcome: string, error?: string): void {
  const level = outcome === 'ok' && log.readsOnly ? 'debug' : 'info';
  if (!logger.isLevelEnabled(level)) return;
  const durationMs = Number(process.hrtime.bigint() - log.started) / 1e6;
  logger[level](
    { uid: log.uid, pid: log.pid, method: log.method, action: log.action, polkit: log.polkit, outcome, error, durationMs: Math.round(durationMs * 1000) / 1000 },
    'call',
  );
}

export interface ErrorReply {
  /** The D-Bus error name. */
  name: string;
  /** What the caller reads. */
  text: string;
  /** What only the log keeps. */
  detail?: string;
  /** Not one of ours: a bug, logged with its stack; the caller sees none of it. */
  unexpected: boolean;
}

export function errorReplyFor(err: unknown): ErrorReply {
  if (err instanceof SystemError) return { name: err.dbusName, text: err.forPerson, detail: err.message, unexpected: false };
  if (err instanceof NsMountError || err instanceof BusError) return { name: err.dbusName, text: err.message, unexpected: false };
  return { name: SystemError.dbusName, text: INTERNAL_ERROR_TEXT, unexpected: true };
}
