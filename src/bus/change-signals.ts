// Broadcasts the daemon's change events as Manager signals. Every signal
// carries (owner_uid, id) and nothing else: a broadcast reaches every
// subscriber the bus policy admits, while paths and names stay behind
// ListMounts and ListUserNamespaces, which show each caller only its own.
import type { Logger } from 'pino';
import { sendMarshalled, type MessageBus } from './connection';
import { SignalTemplate } from './signal-template';
import { MANAGER_INTERFACE, OBJECT_PATH } from './introspection';
import type { ChangeEvent, ChangeListener } from '../events/changes';

const SIGNAL_NAMES: Record<ChangeEvent['kind'], string> = {
  'mount-added': 'MountAdded',
  'mount-removed': 'MountRemoved',
  'user-namespace-allocated': 'UserNamespaceAllocated',
  'user-namespace-reclaimed': 'UserNamespaceReclaimed',
};

export function changeSignals(bus: MessageBus, log: Logger): ChangeListener {
  const templates = new Map<ChangeEvent['kind'], SignalTemplate>();
  const templateOf = (kind: ChangeEvent['kind']): SignalTemplate => {
    let template = templates.get(kind);
    if (!template) templates.set(kind, (template = new SignalTemplate(OBJECT_PATH, MANAGER_INTERFACE, SIGNAL_NAMES[kind])));
    return template;
  };
  return (event) => {
    const id = 'mountId' in event ? event.mountId : event.namespaceId;
    try {
      const template = templateOf(event.kind);
      const value = BigInt(id);
      sendMarshalled(bus, (serial) => template.fill(serial, event.ownerUid, value));
    } catch (err) {
      // A lost signal costs a listener one refresh; the change itself stands.
      log.warn({ err, event }, 'could not send a change signal');
    }
  };
}
