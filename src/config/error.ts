// A configuration problem found at start-up. Deliberately not one of the
// D-Bus errors in src/errors.ts: no caller ever sees it, the daemon refuses
// to start and the administrator reads it in the journal.

export interface ConfigErrorLocation {
  file: string;
  /** 1-based; absent when the setting's line could not be found. */
  line?: number;
  column?: number;
  /** "section.key" (or just "section") the problem is about. */
  key?: string;
}

export class ConfigError extends Error {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly key?: string;

  constructor(where: ConfigErrorLocation, problem: string) {
    const position = [where.file, where.line, where.line !== undefined ? where.column : undefined]
      .filter((part) => part !== undefined)
      .join(':');
    super(`${position}: ${where.key !== undefined ? `${where.key}: ` : ''}${problem}`);
    this.name = 'ConfigError';
    this.file = where.file;
    this.line = where.line;
    this.column = where.column;
    this.key = where.key;
  }
}
