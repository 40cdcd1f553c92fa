// An fd of a user namespace nsmountd allocated for one user, held by the
// test (root) so it can be handed to another user's client: the way to
// test that a caller cannot use someone else's namespace.
import fs from 'node:fs';
import { holdNamespaces } from './holder';
import type { TestUser } from './users';

export interface LentNamespace {
  fd: number;
  release(): Promise<void>;
}

export async function lendNamespace(owner: TestUser, address: string, name: string): Promise<LentNamespace> {
  const held = await holdNamespaces(owner, address, [name]);
  if (!held.results[0]?.ok) {
    await held.release();
    throw new Error(`could not allocate ${name} for ${owner.name}: ${held.results[0]?.message}`);
  }
  for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (fs.statSync(`/proc/${pid}`).uid !== owner.uid) continue;
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('hold-namespaces')) continue;
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('user:[')) {
          const lent = fs.openSync(`/proc/${pid}/fd/${fd}`, 'r');
          return { fd: lent, release: async () => { fs.closeSync(lent); await held.release(); } };
        }
      }
    } catch {
      // The process went away meanwhile.
    }
  }
  await held.release();
  throw new Error(`found no namespace fd in ${owner.name}'s holder process`);
}
