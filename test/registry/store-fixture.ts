// What the RegistryStore tests share: records to store, a fresh state
// directory for each test, and the ways they look at what was stored.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RegistryStore } from '../../src/registry/store';
import type { MountRecord, NamespaceRecord } from '../../src/registry/state';

export function record(name: string, base: number): NamespaceRecord {
  return { name, ownerUid: 1000, base, size: 65536, namespaceId: String(base), handle: null, createdUsec: '0' };
}

export function mount(id: number, ownerUid = 1000): MountRecord {
  return { target: `/home/u${ownerUid}/mnt-${id}`, ownerUid, source: `/home/u${ownerUid}/src-${id}`, kind: 'directory', mountId: String(id), legacyMountId: id, createdUsec: '0' };
}

/** A state directory no other test uses; the store makes it on open. */
export function freshDir(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-reg-')), 'state');
}

export const names = (store: RegistryStore) => store.read().namespaces.all().map((n) => n.name);
export const journal = (dir: string) => path.join(dir, 'registry.journal');
export const sizeOf = (file: string) => (fs.existsSync(file) ? fs.statSync(file).size : 0);
