// Asking polkit directly, as the daemon would, about a process running as
// some test user: how tests see which rules are in force.
import dbus, { type MessageBus } from 'dbus-next';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { TestUser } from './users';

export interface AuthorizationResult {
  isAuthorized: boolean;
  isChallenge: boolean;
  details: Record<string, string>;
}

export async function checkAuthorization(
  bus: MessageBus,
  subjectPid: number,
  action: string,
  opts: { details?: Record<string, string>; allowInteraction?: boolean } = {},
): Promise<AuthorizationResult> {
  const reply = await bus.call(
    new dbus.Message({
      destination: 'org.freedesktop.PolicyKit1',
      path: '/org/freedesktop/PolicyKit1/Authority',
      interface: 'org.freedesktop.PolicyKit1.Authority',
      member: 'CheckAuthorization',
      signature: '(sa{sv})sa{ss}us',
      body: [
        ['unix-process', { pid: new dbus.Variant('u', subjectPid), 'start-time': new dbus.Variant('t', 0n) }],
        action,
        opts.details ?? {},
        opts.allowInteraction ? 1 : 0,
        '',
      ],
    }),
  );
  const [[isAuthorized, isChallenge, details]] = reply!.body as [[boolean, boolean, Record<string, string>]];
  return { isAuthorized, isChallenge, details };
}

/** A process that idles as `user`, to serve as a polkit subject; kill() it when done. */
export async function idleProcessAs(user: TestUser): Promise<ChildProcess & { pid: number }> {
  const args = ['--reuid', String(user.uid), '--regid', String(user.gid)];
  args.push(...(user.groups.length ? ['--groups', user.groups.join(',')] : ['--clear-groups']));
  const child = spawn('setpriv', [...args, '--', 'sleep', '600'], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  // setpriv execs sleep; wait until the switch happened so polkit sees the user's uid.
  for (let i = 0; i < 200; i++) {
    try {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      if (new RegExp(`^Uid:\\s+${user.uid}\\b`, 'm').test(status)) break;
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return child as ChildProcess & { pid: number };
}
