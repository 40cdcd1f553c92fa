// Found by the fuzzer: a call bigger than the socket buffer that carries an
// fd, sent while another call with an fd is queued behind it, made usocket
// send the fd twice and the bus dropped the connection (every later call
// hung). src/bus/usocket-fd-write.ts fixes it for every connection, the
// daemon's included; this is the shortest case that showed it.
import fs from 'node:fs';
import dbus from 'dbus-next';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { connectBus } from '../../src/bus/connection';
import { safeDisconnect } from '../../src/stack/bus-connection';
import { MANAGER, OBJECT_PATH, SERVICE } from './contract';
import { ALLOW_INTERACTIVE_AUTHORIZATION } from './generate';

const stack = useTestStack();

rootTest('a call larger than the socket buffer with an fd, next to another with an fd, leaves the connection working', async (t) => {
  const bus = await connectBus({ address: stack.address });
  let connectionError: string | undefined;
  bus.on('error', (err: Error) => (connectionError ??= err.message));
  const fd = fs.openSync('/dev/null', fs.constants.O_RDONLY);
  try {
    const call = (member: string, signature: string, body: unknown[], flags: number) =>
      Promise.race([
        bus.call(new dbus.Message({ destination: SERVICE, path: OBJECT_PATH, interface: MANAGER, member, signature, body, flags })).then(
          () => 'reply',
          (err: dbus.DBusError) => err.type ?? err.message,
        ),
        new Promise<string>((resolve) => setTimeout(() => resolve('no answer within 10 s'), 10000).unref()),
      ]);
    // Sizes around the socket buffer (~208 KiB), and both flag values, since
    // the exact byte count decides where the kernel cuts the sendmsg.
    const rounds = [300, 400, 500, 350, 700, 450].flatMap((k) => [0, ALLOW_INTERACTIVE_AUTHORIZATION].map((flags) => ({ size: k * 1000, flags })));
    for (const [round, { size, flags }] of rounds.entries()) {
      // ListUserNamespaces takes no fds, so the bus refuses both calls; refusing them needs reading them right.
      const big = call('ListUserNamespaces', 'a{sv}', [{ fd: new dbus.Variant('h', fd), pad: new dbus.Variant('s', 'x'.repeat(size)) }], flags);
      const small = call('ListMounts', 'h', [fd], flags);
      t.deepEqual(await Promise.all([big, small]), ['org.freedesktop.DBus.Error.AccessDenied', 'org.freedesktop.DBus.Error.AccessDenied'], `round ${round}`);
    }
    t.is(connectionError, undefined);
  } finally {
    fs.closeSync(fd);
    safeDisconnect(bus);
  }
});
