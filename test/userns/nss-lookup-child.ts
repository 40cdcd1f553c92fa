// Runs inside a private mount namespace where nss-systemd reaches a userdb
// service that knows one id and lists nobody (userdb-service.ts): prints
// what enumeration, the lookups and an allocation make of it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { listNssIds, nssKnowsId } from '../../src/native/nss';
import { Exclusions } from '../../src/userns/exclusions';
import { RegistryStore } from '../../src/registry/store';
import { UserNamespaceAllocator } from '../../src/userns/allocator';
import { closeQuietly } from '../../src/native/fd';

async function main(): Promise<void> {
  const id = Number(process.argv[2]);
  const block = Math.floor(id / 65536);
  const listed = listNssIds();
  const exclusions = new Exclusions({
    subidFiles: [],
    nsresourcedRegistry: path.join(os.tmpdir(), 'no-nsresourced'),
    nssTtlMs: 60_000,
    listNssIds,
    nssKnowsId,
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-nss-'));
  const store = new RegistryStore(path.join(dir, 'state'));
  store.open();
  const allocator = new UserNamespaceAllocator({
    store,
    pool: { first: block * 65536, last: (block + 2) * 65536 - 1 },
    quotaPerUid: 4,
    exclusions,
    log: pino({ level: 'silent' }),
  });
  const allocation = await allocator.allocate({ ownerUid: 61001, ownerGid: 61001, name: 'n', size: 65536 });
  closeQuietly(allocation.fd);
  fs.rmSync(dir, { recursive: true, force: true });
  process.stdout.write(
    `${JSON.stringify({
      enumerated: listed.uids.includes(id) || listed.gids.includes(id),
      uidKnown: nssKnowsId('uid', id),
      gidKnown: nssKnowsId('gid', id),
      base: allocation.base,
    })}\n`,
  );
}

main().catch((err: Error) => {
  process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
  process.exitCode = 1;
});
