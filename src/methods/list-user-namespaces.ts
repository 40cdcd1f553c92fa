import type { MethodDefinition } from '../bus/method';
import { parseOptions } from '../bus/options';
import type { UserNamespaceAllocator } from '../userns/allocator';

export const LIST_ACTION = 'org.nsmount.allocate-user-namespace';

export function listUserNamespaces(deps: { allocator: UserNamespaceAllocator }): MethodDefinition<Record<string, never>> {
  return {
    name: 'ListUserNamespaces',
    inSignature: 'a{sv}',
    outSignature: 'a(suuutt)',
    parse([options]) {
      parseOptions(options, {});
      return {};
    },
    // Listing one's own namespaces needs no more than the right to make them.
    chooseAction() {
      return { action: LIST_ACTION, details: {} };
    },
    act(_params, { caller }) {
      const records = deps.allocator.list(caller.uid === 0 ? {} : { ownerUid: caller.uid });
      return {
        signature: 'a(suuutt)',
        body: [records.map((r) => [r.name, r.ownerUid, r.base, r.size, BigInt(r.namespaceId), BigInt(r.createdUsec)])],
      };
    },
  };
}
