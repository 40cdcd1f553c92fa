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
  // Only this holder's fds: other test runs on the machine hold namespaces
  // as the same test users, and one of theirs is unknown to our daemon.
  for (const fd of fs.readdirSync(`/proc/${held.pid}/fd`)) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/${held.pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (!target.startsWith('user:[')) continue;
    const lent = fs.openSync(`/proc/${held.pid}/fd/${fd}`, 'r');
    return { fd: lent, release: async () => { fs.closeSync(lent); await held.release(); } };
  }
  await held.release();
  throw new Error(`found no namespace fd in ${owner.name}'s holder process`);
}
