// "--userns NAME": an fd for one of the caller's live namespaces. The daemon
// hands a namespace's fd out once, at allocation; afterwards whoever holds
// it (a running "nsmountctl run", a process inside the namespace) is the
// only way back to it. So the caller's processes are searched for a
// namespace whose kernel id is the one ListUserNamespaces reports.
import fs from 'node:fs';
import { namespaceId } from '../native/nsfs';
import type { NsMountClient } from '../client/client';
import { OwnedFd } from '../client/owned-fd';
import { CliError } from './errors';

function candidatePaths(): string[] {
  const paths: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    paths.push(`/proc/${pid}/ns/user`);
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // not ours to look into, or gone
    }
    for (const fd of fds) {
      const p = `/proc/${pid}/fd/${fd}`;
      try {
        if (fs.readlinkSync(p).startsWith('user:[')) paths.push(p);
      } catch {
        // gone meanwhile
      }
    }
  }
  return paths;
}

export async function openUserNamespaceByName(client: NsMountClient, name: string): Promise<OwnedFd> {
  const mine = await client.listUserNamespaces();
  const wanted = mine.find((n) => n.name === name);
  if (!wanted) {
    const names = mine.map((n) => n.name);
    throw new CliError(
      `you have no user namespace named "${name}"`,
      1,
      names.length ? `yours: ${names.join(', ')}` : 'a namespace lives only while a program holds it, e.g. a running "nsmountctl run"',
    );
  }
  for (const p of candidatePaths()) {
    let fd: number;
    try {
      fd = fs.openSync(p, fs.constants.O_RDONLY);
    } catch {
      continue;
    }
    try {
      if (namespaceId(fd) === wanted.namespaceId) return new OwnedFd(fd);
    } catch {
      // not a namespace after all (the fd was reused)
    }
    fs.closeSync(fd);
  }
  throw new CliError(`user namespace "${name}" is listed, but none of your processes holds it any more`);
}
