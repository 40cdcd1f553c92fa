// polkit CheckAuthorization for bus callers. Anything but a clear "yes" is
// a deny: polkitd missing, erroring, the caller gone, or a challenge the
// caller did not allow us to pursue interactively. The kinds of "no" stay
// apart, because an app acts differently on each: ask again (dismissed),
// start an agent (challenge), or give up (denied).
import dbus from 'dbus-next';
import type { MessageBus } from '../bus/connection';
import { callBus, BusCallError } from '../bus/bus-call';
import { visibleText } from './plain-text';

export type AuthorizationResult =
  | { kind: 'authorized' }
  /** Authentication would do, but nobody was asked: no agent, or not interactive. */
  | { kind: 'challenge' }
  /** An agent asked and the person closed the dialog. */
  | { kind: 'dismissed' }
  /** Refused by policy, authentication failed, or polkit could not be asked. */
  | { kind: 'denied'; polkitUnreachable: boolean; cause?: string };

export interface AuthorizationRequest {
  sender: string;
  /** The caller's uid from the bus: checks wait for polkit in turns per user (bus-call.ts). */
  uid: number;
  action: string;
  details: Record<string, string>;
  interactive: boolean;
}

const AUTHORITY = {
  destination: 'org.freedesktop.PolicyKit1',
  path: '/org/freedesktop/PolicyKit1/Authority',
  interface: 'org.freedesktop.PolicyKit1.Authority',
} as const;

const ALLOW_USER_INTERACTION = 0x1;

export interface Authority {
  check(request: AuthorizationRequest): Promise<AuthorizationResult>;
}

export class PolkitAuthority implements Authority {
  constructor(private readonly bus: MessageBus) {}

  async check(request: AuthorizationRequest): Promise<AuthorizationResult> {
    // polkit 122 accepts only system-bus-name subjects from a service.
    const subject = ['system-bus-name', { name: new dbus.Variant('s', request.sender) }];
    let reply: unknown[];
    try {
      reply = await callBus(this.bus, {
        ...AUTHORITY,
        member: 'CheckAuthorization',
        signature: '(sa{sv})sa{ss}us',
        body: [subject, request.action, shownDetails(request.details), request.interactive ? ALLOW_USER_INTERACTION : 0, ''],
      }, { queue: `uid ${request.uid}` });
    } catch (err) {
      const name = err instanceof BusCallError && err.errorName ? `${err.errorName}: ` : '';
      return { kind: 'denied', polkitUnreachable: true, cause: `${name}${(err as Error).message}` };
    }
    const result = reply[0] as [boolean, boolean, Record<string, string>] | undefined;
    if (!Array.isArray(result)) return { kind: 'denied', polkitUnreachable: true, cause: 'malformed answer' };
    const [isAuthorized, isChallenge, details] = result;
    if (isAuthorized === true) return { kind: 'authorized' };
    // polkit answers a challenge at once when it found no agent for the caller.
    if (isChallenge === true) return { kind: 'challenge' };
    if (details?.['polkit.dismissed'] === 'true') return { kind: 'dismissed' };
    return { kind: 'denied', polkitUnreachable: false };
  }
}

/**
 * Details end up in front of a person (an agent's dialog, a rule's log
 * line): paths and names a caller chose must not carry line breaks or
 * escapes that make them read as something else.
 */
function shownDetails(details: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(details).map(([key, value]) => [key, visibleText(value)]));
}
