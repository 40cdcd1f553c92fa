// Broadcasts the daemon's change events as Manager signals. Every signal
// carries (owner_uid, id) and nothing else: a broadcast reaches every
// subscriber the bus policy admits, while paths and names stay behind
// ListMounts and ListUserNamespaces, which show each caller only its own.
import dbus from 'dbus-next';
import type { Logger } from 'pino';
import type { MessageBus } from './connection';
import { MANAGER_INTERFACE, OBJECT_PATH } from './introspection';
import type { ChangeEvent, ChangeListener } from '../events/changes';

const SIGNAL_NAMES: Record<ChangeEvent['kind'], string> = {
  'mount-added': 'MountAdded',
  'mount-removed': 'MountRemoved',
  'user-namespace-allocated': 'UserNamespaceAllocated',
  'user-namespace-reclaimed': 'UserNamespaceReclaimed',
};

export function changeSignals(bus: MessageBus, log: Logger): ChangeListener {
  return (event) => {
    const id = 'mountId' in event ? event.mountId : event.namespaceId;
    try {
      bus.send(dbus.Message.newSignal(OBJECT_PATH, MANAGER_INTERFACE, SIGNAL_NAMES[event.kind], 'ut', [event.ownerUid, BigInt(id)]));
    } catch (err) {
      // A lost signal costs a listener one refresh; the change itself stands.
      log.warn({ err, event }, 'could not send a change signal');
    }
  };
}
