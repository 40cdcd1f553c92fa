// Run as an unprivileged user by bus-policy.test: the policy must let anyone
// call nsmountd but not own its name. Prints one JSON object.
import { connect, callWithFds, tryOwn, MANAGER } from './bus-client';

async function main(): Promise<void> {
  const bus = connect(process.argv[2]);
  const result = {
    uid: process.getuid!(),
    own: await tryOwn(bus),
    oneFd: await callWithFds(bus, { iface: MANAGER, member: 'MakeDirectory', fds: 1 }),
    twoFds: await callWithFds(bus, { iface: MANAGER, member: 'MakeDirectory', fds: 2 }),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  bus.disconnect();
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
