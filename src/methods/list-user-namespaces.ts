import type { MethodDefinition } from '../bus/method';
import { parseOptions } from '../bus/options';
import type { UserNamespaceAllocator } from '../userns/allocator';
import { ACTIONS } from '../polkit/actions';

export function listUserNamespaces(deps: { allocator: UserNamespaceAllocator }): MethodDefinition<Record<string, never>> {
  return {
    name: 'ListUserNamespaces',
    readsOnly: true,
    inSignature: 'a{sv}',
    outSignature: 'a(suuutt)',
    parse([options]) {
      parseOptions(options, {});
      return {};
    },
    // Listing one's own namespaces needs no more than the right to make them.
    chooseAction() {
      return { action: ACTIONS.allocateUserNamespace, details: {} };
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
