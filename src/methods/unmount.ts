// Unmount: detaches a mount nsmountd attached, named by an fd of its root
// (see mounts/attached-mount.ts).
import type { MethodDefinition } from '../bus/method';
import { parseOptions } from '../bus/options';
import { findAttachedMount, unmountAttached, type AttachedMount } from '../mounts/attached-mount';
import type { Attachments } from '../mounts/attachments';
import { ACTIONS, type ActionId } from '../polkit/actions';

interface Params {
  mountPointFd: number;
}

/**
 * Undoing one's own attachment needs no more than the right that made it:
 * the action of the method that attached it.
 */
function ownUnmountAction(kind: string): ActionId {
  return kind.startsWith('image:') ? ACTIONS.mountImage : ACTIONS.idmapDirectory;
}

export function unmount(deps: { attachments: Attachments }): MethodDefinition<Params, AttachedMount> {
  return {
    name: 'Unmount',
    inSignature: 'ha{sv}',
    outSignature: '',
    parse([mountPoint, options]) {
      parseOptions(options, {});
      return { mountPointFd: mountPoint as number };
    },
    checkFds(params) {
      return findAttachedMount(params.mountPointFd, deps.attachments, 'mount_point');
    },
    chooseAction(_params, { caller }, { record }) {
      return {
        action: record.ownerUid === caller.uid ? ownUnmountAction(record.kind) : ACTIONS.unmountOthers,
        details: { mount_point: record.target, owner_uid: String(record.ownerUid), kind: record.kind, source: record.source },
      };
    },
    act(params, _ctx, found) {
      unmountAttached(params.mountPointFd, found, deps.attachments);
      return { signature: '', body: [] };
    },
  };
}
