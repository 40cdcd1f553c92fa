// A dbus-daemon configured like the system bus but listening on a socket of
// our own, for tests and for the daemon's embedded mode.
//
// Bus activation on a system bus goes through the setuid
// dbus-daemon-launch-helper, which ignores --config-file and always reads
// /usr/share/dbus-1/system.conf to find <servicedir>s. So the daemon runs in
// a mount namespace of its own where the generated config is bind-mounted
// over system.conf: the helper (its child) then sees our service dirs. The
// helper clears the environment, so activated services are not told the
// bus address: their .service Exec= line must pass it.
import fs from 'node:fs';
import path from 'node:path';
import { spawnManaged, type ManagedChild } from './child';
import { privateBusConfig, POLKIT_BUS_POLICY, SYSTEM_CONF } from './bus-config';

export interface PrivateBusOptions {
  /** Must exist and be reachable (o+x) by user messagebus and by every client. */
  runtimeDir: string;
  /** Bus policy files, copied into the bus's private include dir next to polkit's. */
  policyFiles: string[];
  /** Where bus-activatable .service files live. */
  serviceDirs?: string[];
  startTimeoutMs?: number;
  /** Receives every line dbus-daemon prints. */
  onLog?: (line: string) => void;
}

export interface PrivateBus {
  address: string;
  pid: number;
  configPath: string;
  /** Recent dbus-daemon stderr lines. */
  logs: string[];
  stop(): Promise<void>;
}

const DBUS_DAEMON = '/usr/bin/dbus-daemon';

export async function startPrivateSystemBus(opts: PrivateBusOptions): Promise<PrivateBus> {
  const busDir = path.join(opts.runtimeDir, 'bus');
  const includeDir = path.join(busDir, 'system.d');
  fs.mkdirSync(includeDir, { recursive: true, mode: 0o755 });
  // mkdir's mode is masked by umask; messagebus must be able to read these.
  fs.chmodSync(opts.runtimeDir, 0o755);
  fs.chmodSync(busDir, 0o755);
  fs.chmodSync(includeDir, 0o755);
  for (const file of [POLKIT_BUS_POLICY, ...opts.policyFiles]) {
    const dest = path.join(includeDir, path.basename(file));
    fs.copyFileSync(file, dest);
    fs.chmodSync(dest, 0o644);
  }
  const socketPath = path.join(busDir, 'system_bus_socket');
  const configPath = path.join(busDir, 'system.conf');
  fs.writeFileSync(
    configPath,
    privateBusConfig({ socketPath, includeDir, serviceDirs: opts.serviceDirs ?? [], serviceHelper: true }),
    { mode: 0o644 },
  );

  const child = spawnManaged('unshare', [
    '--mount',
    '--propagation',
    'private',
    '--',
    '/bin/sh',
    '-c',
    'mount --bind "$1" "$2" && exec "$3" --nofork --nopidfile --print-address=1 --config-file="$1"',
    'sh',
    configPath,
    SYSTEM_CONF,
    DBUS_DAEMON,
  ], { onLine: opts.onLog });

  let address: string;
  try {
    const line = await child.waitForLine(/^unix:/, { timeoutMs: opts.startTimeoutMs ?? 10000 });
    address = line.trim();
    // dbus-daemon only warns about a broken included file and runs on
    // without it; a policy silently missing would make tests lie. The
    // warning is written before the address, but on the other pipe: let
    // both drain first.
    await new Promise((r) => setTimeout(r, 20));
    const broken = child.lines.filter((l) => /Encountered error/.test(l));
    if (broken.length) throw new Error(`a bus config file is invalid:\n${child.lines.join('\n')}`);
  } catch (err) {
    await child.stop({ signal: 'SIGKILL' });
    throw new Error(`dbus-daemon did not start: ${(err as Error).message}`);
  }
  return makeHandle(child, address, configPath);
}

function makeHandle(child: ManagedChild, address: string, configPath: string): PrivateBus {
  return {
    address,
    pid: child.pid,
    configPath,
    logs: child.lines,
    async stop() {
      await child.stop();
    },
  };
}
