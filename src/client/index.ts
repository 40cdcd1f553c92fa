// The package's public API: `import { connect } from 'nsmountd'`.
export { connect, NsMountClient, BUS_NAME, OBJECT_PATH, MANAGER_INTERFACE, ALLOW_INTERACTIVE_AUTHORIZATION } from './client';
export type { ConnectOptions } from './client';
export { OwnedFd, fdNumber } from './owned-fd';
export type { FdLike } from './owned-fd';
export * from './errors';
export type * from './types';
