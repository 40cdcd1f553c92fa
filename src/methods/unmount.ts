// Unmount: detaches a mount nsmountd attached. The mount is named by an fd
// of its root, never by a path, and found in the registry by its unique
// mount id, so nothing nsmountd did not attach can be unmounted through it.
import type { MethodDefinition } from '../bus/method';
import { parseOptions } from '../bus/options';
import { NotFound } from '../errors';
import type { MountRecord } from '../registry/state';
import { fstatArgument } from '../idmap/file-kind';
import { detachAttachedMount } from '../mounts/attach';
import { isMountRoot, mountIdOf } from '../native/mount-api';
import type { Attachments } from '../mounts/attachments';
import { ACTIONS, type ActionId } from '../polkit/actions';

interface Params {
  mountPointFd: number;
}

/** The attachment the passed mount point is the root of. */
interface Found {
  record: MountRecord;
  mountId: bigint;
}

/**
 * Undoing one's own attachment needs no more than the right that made it:
 * the action of the method that attached it.
 */
function ownUnmountAction(kind: string): ActionId {
  return kind.startsWith('image:') ? ACTIONS.mountImage : ACTIONS.idmapDirectory;
}

export function unmount(deps: { attachments: Attachments }): MethodDefinition<Params, Found> {
  return {
    name: 'Unmount',
    inSignature: 'ha{sv}',
    outSignature: '',
    parse([mountPoint, options]) {
      parseOptions(options, {});
      return { mountPointFd: mountPoint as number };
    },
    checkFds(params) {
      fstatArgument(params.mountPointFd, 'mount_point');
      const mountId = mountIdOf(params.mountPointFd);
      const record = deps.attachments.find(mountId);
      if (!record) throw new NotFound('mount_point: nsmountd did not attach anything there, so there is nothing to unmount');
      if (!isMountRoot(params.mountPointFd)) {
        throw new NotFound(`mount_point: the fd is inside the mount at ${record.target}, not at its root; pass the mount point itself`);
      }
      return { record, mountId };
    },
    chooseAction(_params, { caller }, { record }) {
      return {
        action: record.ownerUid === caller.uid ? ownUnmountAction(record.kind) : ACTIONS.unmountOthers,
        details: { mount_point: record.target, owner_uid: String(record.ownerUid), kind: record.kind, source: record.source },
      };
    },
    act(params, _ctx, { mountId }) {
      detachAttachedMount({ targetFd: params.mountPointFd, expectedMountId: mountId });
      deps.attachments.remove(mountId);
      return { signature: '', body: [] };
    },
  };
}
