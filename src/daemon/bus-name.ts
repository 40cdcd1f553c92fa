// Owning the service's well-known name, alone: a second daemon on the
// same bus is told who holds it instead of queueing behind it.
import type { MessageBus } from '../bus/connection';
import { callBus, DBUS_DAEMON } from '../bus/bus-call';
import { BUS_NAME } from '../bus/introspection';

const REQUEST_NAME_DO_NOT_QUEUE = 0x4;
const PRIMARY_OWNER = 1;

export type NameRequest = { owned: true } | { owned: false; ownerPid?: number };

export async function requestBusName(bus: MessageBus): Promise<NameRequest> {
  const [reply] = await callBus(bus, {
    ...DBUS_DAEMON,
    member: 'RequestName',
    signature: 'su',
    body: [BUS_NAME, REQUEST_NAME_DO_NOT_QUEUE],
  });
  if (reply === PRIMARY_OWNER) return { owned: true };
  return { owned: false, ownerPid: await ownerPid(bus, BUS_NAME) };
}

export async function releaseBusName(bus: MessageBus): Promise<void> {
  await callBus(bus, { ...DBUS_DAEMON, member: 'ReleaseName', signature: 's', body: [BUS_NAME] });
}

/** The pid of the process owning name on this bus, when the bus will tell. */
async function ownerPid(bus: MessageBus, name: string): Promise<number | undefined> {
  try {
    const [pid] = await callBus(bus, { ...DBUS_DAEMON, member: 'GetConnectionUnixProcessID', signature: 's', body: [name] });
    return typeof pid === 'number' ? pid : undefined;
  } catch {
    return undefined;
  }
}
