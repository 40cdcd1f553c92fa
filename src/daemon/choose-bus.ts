// Which bus the daemon serves on: the one named on the command line, the
// system bus when one runs, else an embedded bus with its own polkitd.
import fs from 'node:fs';
import type { Logger } from '../log';
import { resolveBusAddress } from '../bus/connection';
import { BUS_NAME } from '../bus/introspection';
import { startEmbeddedStack, systemBusReachable, type EmbeddedStack } from '../stack/embedded';
import type { DaemonArgs } from './args';
import { packageFile } from './paths';

export async function chooseBus(args: DaemonArgs, log: Logger, stateDir: string): Promise<{ address: string; embedded?: EmbeddedStack }> {
  if (args.address) return { address: args.address };
  if (!args.embedded && (process.env.DBUS_SYSTEM_BUS_ADDRESS || (await systemBusReachable()))) {
    return { address: resolveBusAddress() };
  }
  const runtimeDir = `${stateDir.replace(/\/+$/, '')}-embedded`;
  fs.mkdirSync(runtimeDir, { recursive: true, mode: 0o755 });
  fs.chmodSync(runtimeDir, 0o755);
  const embedded = await startEmbeddedStack({
    runtimeDir,
    policyFiles: [packageFile('dbus/org.nsmount.NsMount1.conf')],
    actionFiles: [packageFile('polkit/org.nsmount.policy')],
    // Administrators widen the defaults with rules, embedded or not.
    hostRules: true,
    log,
  });
  process.stdout.write(
    `nsmountd: no system bus is running, so an embedded one was started with its own polkitd.\n` +
      `  DBUS_SYSTEM_BUS_ADDRESS=${embedded.address}\n` +
      `  try: gdbus call --address '${embedded.address}' --dest ${BUS_NAME} --object-path /org/nsmount/NsMount1 ` +
      `--method org.nsmount.NsMount1.Manager.AllocateUserNamespace demo 0 '{}'\n`,
  );
  return { address: embedded.address, embedded };
}
