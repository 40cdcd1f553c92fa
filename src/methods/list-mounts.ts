import type { MethodDefinition } from '../bus/method';
import { parseOptions } from '../bus/options';
import type { Logger } from '../log';
import type { Attachments } from '../mounts/attachments';
import { ACTIONS } from '../polkit/actions';

export function listMounts(deps: { attachments: Attachments; log: Logger }): MethodDefinition<Record<string, never>> {
  return {
    name: 'ListMounts',
    readsOnly: true,
    inSignature: 'a{sv}',
    outSignature: 'a(susst)',
    parse([options]) {
      parseOptions(options, {});
      return {};
    },
    // Seeing one's own attachments needs no more than the right to make them.
    chooseAction() {
      return { action: ACTIONS.idmapDirectory, details: {} };
    },
    act(_params, { caller }) {
      // Attachments unmounted behind the daemon's back are not listed.
      const filter = caller.uid === 0 ? {} : { ownerUid: caller.uid };
      try {
        deps.attachments.reconcile(filter);
      } catch (err) {
        // A registry that cannot be written now still lists what it holds.
        deps.log.debug({ err }, 'could not reconcile attachments before listing them');
      }
      const records = deps.attachments.list(filter);
      return {
        signature: 'a(susst)',
        body: [records.map((r) => [r.target, r.ownerUid, r.source, r.kind, BigInt(r.mountId)])],
      };
    },
  };
}
