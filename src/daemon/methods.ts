import type { AnyMethodDefinition } from '../bus/method';
import type { UserNamespaceAllocator } from '../userns/allocator';
import type { Config } from '../config';
import type { Logger } from '../log';
import { allocateUserNamespace } from '../methods/allocate-user-namespace';
import { listUserNamespaces } from '../methods/list-user-namespaces';
import { makeDirectory } from '../methods/make-directory';
import { idmapDirectory } from '../methods/idmap-directory';
import { unmount } from '../methods/unmount';
import { listMounts } from '../methods/list-mounts';
import { mount } from '../methods/mount';
import type { Attachments } from '../mounts/attachments';
import type { OffThread } from '../native/off-thread';

export interface MethodDependencies {
  allocator: UserNamespaceAllocator;
  attachments: Attachments;
  config: Config;
  log: Logger;
  /** Where work that may wait for a caller's file runs (src/native/off-thread.ts). */
  offThread: OffThread;
}

/** Every method of the Manager interface; the contract test compares this list with the XML. */
export function buildMethods(deps: MethodDependencies): AnyMethodDefinition[] {
  return [
    allocateUserNamespace(deps),
    listUserNamespaces(deps),
    makeDirectory(deps),
    idmapDirectory(deps),
    unmount(deps),
    listMounts(deps),
    mount(deps),
  ];
}
