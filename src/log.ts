// Structured JSON on stdout for journald; readable lines when a person runs
// the daemon on a terminal.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level: string; pretty?: boolean; name?: string }): Logger {
  const pretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  if (pretty) {
    // pino-pretty in-process (no worker thread): the daemon stays one thread
    // apart from libuv's pool.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const prettyStream = require('pino-pretty')({ colorize: true, sync: true, ignore: 'pid,hostname' });
    return pino({ level: opts.level, name: opts.name }, prettyStream);
  }
  return pino({ level: opts.level, name: opts.name, base: undefined }, pino.destination({ fd: 1, sync: true }));
}
