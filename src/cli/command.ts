// What every subcommand provides, and what it gets to work with.
import type { ParseArgsConfig } from 'node:util';
import type { NsMountClient } from '../client/client';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CommandContext {
  address: string;
  json: boolean;
  interactive: boolean;
  /** Connects on first use; closed by main when the command is done. */
  client(): Promise<NsMountClient>;
  /** Standard output. */
  out(text: string): void;
  /** Progress and warnings: standard error, so --json output stays clean. */
  note(text: string): void;
}

export interface Invocation {
  values: OptionValues;
  positionals: string[];
  /** Everything after "--". */
  rest: string[];
}

export interface Command {
  name: string;
  summary: string;
  /** Full --help text, starting with the usage line. */
  help: string;
  options: OptionSpec;
  /** Allowed number of positionals. */
  positionals: { min: number; max: number; names: string };
  /**
   * What the user typed for each D-Bus argument the command fills
   * ("options.AttachTo" -> "--attach ~/mnt"), so refusals name it that way.
   */
  argumentNames?(invocation: Invocation): Record<string, string>;
  /** Resolves with the exit status. */
  run(ctx: CommandContext, invocation: Invocation): Promise<number>;
}

/** JSON for --json output: bigints as decimal strings (64-bit ids do not fit a double). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
}

/** A permission mode the way chmod takes it: "0755". */
export function octalMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}
