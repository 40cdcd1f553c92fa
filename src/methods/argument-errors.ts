// Domain functions name their arguments in their own terms ("target",
// "userNamespace"); a D-Bus caller needs the name from the contract
// ("options.AttachTo"). This rewrites the message of a refusal and keeps
// its D-Bus error name.
import { NsMountError, SystemError } from '../errors';

/**
 * Runs `fn`; an NsMountError it throws is re-thrown with its message
 * starting with `argument`: a leading "<domain name>: " is replaced,
 * any other message is prefixed.
 */
export function asArgument<T>(argument: string, fn: () => T, domainNames: string[] = []): T {
  try {
    return fn();
  } catch (err) {
    throw renameArgument(err, argument, domainNames);
  }
}

export function renameArgument(err: unknown, argument: string, domainNames: string[] = []): unknown {
  if (!(err instanceof NsMountError) || err instanceof SystemError) return err;
  if (err.message.startsWith(`${argument}: `)) return err;
  let text = err.message;
  for (const name of domainNames) {
    if (text.startsWith(`${name}: `)) {
      text = text.slice(name.length + 2);
      break;
    }
  }
  return new NsMountError(`${argument}: ${text}`, err.dbusName);
}
