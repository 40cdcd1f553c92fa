// A minimal private system bus for the packaging tests.
//
// Stand-in until src/stack/private-bus.ts lands; it deliberately carries
// only the parts of /usr/share/dbus-1/system.conf that decide what the
// policy under test is checked against (default deny for method calls,
// replies allowed), so a rule in our file is what makes a call pass or fail.
import { spawn, ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';

export interface LocalBus {
  address: string;
  pid: number;
  stop(): Promise<void>;
}

export interface LocalBusOptions {
  /** Holds the socket and config; made reachable by user messagebus. */
  dir: string;
  policyFiles: string[];
}

function busConfig(socket: string, policyFiles: string[]): string {
  const includes = policyFiles.map((f) => `  <include>${f}</include>`).join('\n');
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <user>messagebus</user>
  <auth>EXTERNAL</auth>
  <listen>unix:path=${socket}</listen>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
${includes}
</busconfig>
`;
}

function readFirstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let errBuf = '';
    child.stderr!.on('data', (d) => (errBuf += d));
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        child.stdout!.off('data', onData);
        resolve(buf.slice(0, nl));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${code}: ${errBuf}`)));
  });
}

export async function startLocalBus(opts: LocalBusOptions): Promise<LocalBus> {
  // dbus-daemon drops to messagebus before it creates the socket.
  chmodSync(opts.dir, 0o755);
  const configPath = join(opts.dir, 'bus.conf');
  writeFileSync(configPath, busConfig(join(opts.dir, 'bus.socket'), opts.policyFiles));
  const child = spawn('dbus-daemon', [`--config-file=${configPath}`, '--nofork', '--nopidfile', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const address = await readFirstLine(child);
  return {
    address,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
