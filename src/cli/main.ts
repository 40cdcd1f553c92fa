// nsmountctl: the command line for nsmountd. Global options come before the
// subcommand or anywhere among its own; every failure ends as one line on
// stderr and a non-zero status.
import { parseArgs } from 'node:util';
import { connect, type NsMountClient } from '../client/client';
import { resolveBusAddress } from '../bus/connection';
import type { Command, CommandContext, OptionSpec, OptionValues } from './command';
import { describeError, errorLine, UsageError, CliError } from './errors';
import { status } from './commands/status';
import { mkdir } from './commands/mkdir';
import { idmap } from './commands/idmap';
import { unmount } from './commands/unmount';
import { mount } from './commands/mount';
import { run } from './commands/run';
import { importTar } from './commands/import-tar';
import { packageVersion } from '../daemon/version';

export const COMMANDS: Command[] = [status, mkdir, idmap, unmount, mount, run, importTar];

const GLOBAL_OPTIONS: OptionSpec = {
  address: { type: 'string' },
  json: { type: 'boolean' },
  interactive: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: nsmountctl [--address ADDRESS] [--json] [--interactive] COMMAND [ARGS...]

Unprivileged user namespaces, idmapped directories and disk images, from nsmountd.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Global options:
  --address ADDRESS   D-Bus address of the bus nsmountd is on (default:
                      $DBUS_SYSTEM_BUS_ADDRESS, then the system bus)
  --json              machine-readable output on stdout; a failure is one
                      JSON line on stderr: {"command", "error", "message", "hint"}
  --interactive       let polkit ask for a password (needs a polkit agent)
  --help              help; "nsmountctl COMMAND --help" for a command's
  --version           print the version

Run "nsmountctl COMMAND --help" for more.
`;
}

export interface MainIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: MainIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

function usageErrorText(message: string): string {
  // parseArgs words its errors as "Unknown option '--x'. To specify ...": keep the first sentence.
  return message.split('. ')[0].replace(/\.$/, '');
}

function parseCommandArgs(command: Command, args: string[]): { values: OptionValues; positionals: string[]; rest: string[] } {
  const dashes = args.indexOf('--');
  const own = dashes === -1 ? args : args.slice(0, dashes);
  const rest = dashes === -1 ? [] : args.slice(dashes + 1);
  let parsed;
  try {
    parsed = parseArgs({ args: own, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(usageErrorText((err as Error).message), command.name);
  }
  return { values: parsed.values as OptionValues, positionals: parsed.positionals, rest };
}

/** Runs nsmountctl with `argv` (without node and script); resolves with the exit status. */
export async function main(argv: string[], io: MainIo = processIo): Promise<number> {
  // Leading global options, then the command name.
  let i = 0;
  const globals: OptionValues = {};
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json' || arg === '--interactive') globals[arg.slice(2)] = true;
    else if (arg === '--help' || arg === '-h') globals.help = true;
    else if (arg === '--version') {
      io.out(`nsmountctl ${packageVersion()}\n`);
      return 0;
    } else if (arg === '--address') globals.address = argv[++i];
    else if (arg.startsWith('--address=')) globals.address = arg.slice('--address='.length);
    else break;
  }
  const name = argv[i];
  let address = resolveBusAddress(globals.address as string | undefined);
  if (name === undefined) {
    if (globals.help) {
      io.out(mainHelp());
      return 0;
    }
    io.err('nsmountctl: no command given (see nsmountctl --help)\n');
    return 2;
  }
  if (globals.address === undefined && argv[i - 1] === '--address') {
    io.err('nsmountctl: --address needs a value\n');
    return 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`nsmountctl: unknown command "${name}" (see nsmountctl --help)\n`);
    return 2;
  }

  let client: NsMountClient | undefined;
  const ownArgs = argv.slice(i + 1);
  const dashes = ownArgs.indexOf('--');
  let json = globals.json === true || (dashes === -1 ? ownArgs : ownArgs.slice(0, dashes)).includes('--json');
  let argumentNames: Record<string, string> | undefined;
  try {
    const invocation = parseCommandArgs(command, argv.slice(i + 1));
    const values = { ...globals, ...invocation.values };
    json = Boolean(values.json);
    argumentNames = command.argumentNames?.(invocation);
    if (values.help) {
      io.out(command.help);
      return 0;
    }
    const { min, max, names } = command.positionals;
    const count = invocation.positionals.length;
    if (count < min) throw new UsageError(`missing ${names.split(' ').slice(count).join(' ')}`, command.name);
    if (count > max) throw new UsageError(`unexpected argument "${invocation.positionals[max]}"`, command.name);
    address = resolveBusAddress(values.address as string | undefined);
    const ctx: CommandContext = {
      address,
      json: Boolean(values.json),
      interactive: Boolean(values.interactive),
      client: async () => (client ??= await connect({ address, interactive: Boolean(values.interactive) })),
      out: io.out,
      note: io.err,
    };
    return await command.run(ctx, { ...invocation, values });
  } catch (err) {
    const described = describeError(err, { address, argumentNames });
    if (err instanceof UsageError) described.hint = `see nsmountctl ${command.name} --help`;
    // --json: the failure as one JSON line on stderr, stdout stays empty.
    if (json) io.err(JSON.stringify({ command: command.name, ...described }) + '\n');
    else if (err instanceof UsageError) io.err(`nsmountctl ${err.command ?? command.name}: ${err.message} (${described.hint})\n`);
    else io.err(`nsmountctl ${command.name}: ${errorLine(described)}\n`);
    if (err instanceof UsageError) return 2;
    return err instanceof CliError ? err.exitCode : 1;
  } finally {
    client?.close();
  }
}
