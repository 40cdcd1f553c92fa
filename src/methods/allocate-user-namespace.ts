import type { MethodDefinition } from '../bus/method';
import { parseOptions } from '../bus/options';
import { validateNamespaceName, validateNamespaceSize } from '../userns/name';
import type { UserNamespaceAllocator } from '../userns/allocator';
import { InvalidArgument } from '../errors';
import { ACTIONS } from '../polkit/actions';

const OPTIONS = {} as const;

interface Params {
  name: string;
  size: number;
}

export function allocateUserNamespace(deps: { allocator: UserNamespaceAllocator }): MethodDefinition<Params> {
  return {
    name: 'AllocateUserNamespace',
    inSignature: 'sua{sv}',
    outSignature: 'huu',
    parse([name, size, options]) {
      if (typeof name !== 'string') throw new InvalidArgument('name', 'expected a string');
      parseOptions(options, OPTIONS);
      return { name: validateNamespaceName(name), size: validateNamespaceSize(size as number) };
    },
    chooseAction(params) {
      return {
        action: ACTIONS.allocateUserNamespace,
        details: { name: params.name, size: String(params.size) },
      };
    },
    async act(params, { caller }) {
      const allocation = await deps.allocator.allocate({
        ownerUid: caller.uid,
        ownerGid: caller.gid,
        name: params.name,
        size: params.size,
      });
      return {
        signature: 'huu',
        body: [allocation.fd, allocation.base, allocation.size],
        ownedFds: [allocation.fd],
      };
    },
  };
}
