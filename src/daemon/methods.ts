import type { AnyMethodDefinition } from '../bus/method';
import type { UserNamespaceAllocator } from '../userns/allocator';
import type { Config } from '../config';
import type { Logger } from '../log';
import { allocateUserNamespace } from '../methods/allocate-user-namespace';
import { listUserNamespaces } from '../methods/list-user-namespaces';

export interface MethodDependencies {
  allocator: UserNamespaceAllocator;
  config: Config;
  log: Logger;
}

/** Every method of the Manager interface; the contract test compares this list with the XML. */
export function buildMethods(deps: MethodDependencies): AnyMethodDefinition[] {
  return [allocateUserNamespace(deps), listUserNamespaces(deps)];
}
