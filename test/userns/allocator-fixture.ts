// An allocator on a registry of its own in a temp dir, with no exclusion
// source but the ones a test passes, for the allocator's own tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { RegistryStore } from '../../src/registry/store';
import { UserNamespaceAllocator } from '../../src/userns/allocator';
import { Exclusions, type ExclusionSources } from '../../src/userns/exclusions';

export const BLOCK = 65536;

export interface TestAllocatorOptions {
  /** Index of the pool's first 64K block; tests pick distinct ones so their ids never meet. */
  firstBlock: number;
  blocks: number;
  sources?: Partial<ExclusionSources>;
}

export function makeTestAllocator(options: TestAllocatorOptions): { allocator: UserNamespaceAllocator; store: RegistryStore; dir: string } {
  const pool = { first: options.firstBlock * BLOCK, last: (options.firstBlock + options.blocks) * BLOCK - 1 };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-alloc-'));
  const store = new RegistryStore(path.join(dir, 'state'));
  store.open();
  const exclusions = new Exclusions({
    subidFiles: [],
    nsresourcedRegistry: path.join(dir, 'nsresource-registry'),
    nssTtlMs: 60_000,
    listNssIds: () => ({ uids: [], gids: [] }),
    nssKnowsId: () => false,
    ...options.sources,
  });
  const allocator = new UserNamespaceAllocator({ store, pool, quotaPerUid: 4, exclusions, log: pino({ level: 'silent' }) });
  return { allocator, store, dir };
}
