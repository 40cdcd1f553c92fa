import { parseArgs } from 'node:util';

export interface DaemonArgs {
  address?: string;
  stateDir?: string;
  config?: string;
  logLevel?: string;
  embedded: boolean;
  help: boolean;
  version: boolean;
}

export const USAGE = `Usage: nsmountd [OPTIONS]

The nsmountd system service: allocates user namespaces, idmaps directories
and mounts disk images for unprivileged callers, authorized by polkit.

Options:
  --address ADDRESS   D-Bus address to serve on (default: $DBUS_SYSTEM_BUS_ADDRESS,
                      then the system bus; when neither is reachable, an
                      embedded private bus with its own polkitd is started)
  --state-dir DIR     registry directory (default from config: /run/nsmountd)
  --config FILE       configuration file (default /etc/nsmountd/nsmountd.conf,
                      plus FILE.d/*.conf drop-ins)
  --log-level LEVEL   fatal, error, warn, info, debug or trace
  --embedded          always start the embedded private bus and polkitd
  --version           print the version and exit
  --help              print this help and exit
`;

export class UsageError extends Error {}

export function parseDaemonArgs(argv: string[]): DaemonArgs {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        address: { type: 'string' },
        'state-dir': { type: 'string' },
        config: { type: 'string' },
        'log-level': { type: 'string' },
        embedded: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    return {
      address: values.address,
      stateDir: values['state-dir'],
      config: values.config,
      logLevel: values['log-level'],
      embedded: values.embedded ?? false,
      help: values.help ?? false,
      version: values.version ?? false,
    };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
