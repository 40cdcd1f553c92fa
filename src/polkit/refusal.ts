// Turns polkit's "no" into the error a caller gets: one D-Bus name per
// situation an app handles differently, and a message a person can read
// as is. The action id closes the message in parentheses, for whoever
// writes polkit rules; the rest names no internals.
import type { AuthorizationResult } from './authority';
import {
  InteractiveAuthorizationRequired,
  NotAuthorized,
  NotAuthorizedCanObtain,
  NotAuthorizedDismissed,
  type NsMountError,
} from '../errors';
import { ACTIONS, type ActionId } from './actions';

/** What each action lets a person do, phrased to follow "to". */
const ACTION_PHRASES: Record<ActionId, string> = {
  [ACTIONS.allocateUserNamespace]: 'get a user namespace',
  [ACTIONS.makeDirectory]: 'create a directory for container files',
  [ACTIONS.idmapDirectory]: 'mount this directory',
  [ACTIONS.idmapDirectoryUntrusted]: 'mount a directory whose files belong to someone else',
  [ACTIONS.unmountOthers]: "unmount another user's mount",
  [ACTIONS.mountImage]: 'mount this disk image',
  [ACTIONS.mountImageUntrusted]: 'mount this disk image',
};

function actionPhrase(action: string): string {
  return ACTION_PHRASES[action as ActionId] ?? 'do this';
}

/** The error for a result other than "authorized". */
export function refusalError(result: Exclude<AuthorizationResult, { kind: 'authorized' }>, action: string, opts: { interactive: boolean }): NsMountError {
  const what = actionPhrase(action);
  const tag = ` (polkit action ${action})`;
  switch (result.kind) {
    case 'challenge':
      if (!opts.interactive) {
        return new InteractiveAuthorizationRequired(
          `You need to authenticate to ${what}, but the app did not allow a password prompt. ` +
            `It has to ask again allowing interactive authorization (ALLOW_INTERACTIVE_AUTHORIZATION).${tag}`,
        );
      }
      return new NotAuthorizedCanObtain(
        `You need to authenticate to ${what}, but no authentication agent was available to ask you. ` +
          `Try again from a desktop session, or with an agent such as pkttyagent running.${tag}`,
      );
    case 'dismissed':
      return new NotAuthorizedDismissed(`The authentication dialog was closed, so nothing was done. Try again to be asked once more.${tag}`);
    case 'denied':
      if (result.polkitUnreachable) {
        return new NotAuthorized(
          `Could not ask the authorization service (polkit) whether you may ${what}, so it was refused. ` +
            `Try again later; if it keeps happening, ask your administrator to check polkit.${tag}`,
        );
      }
      return new NotAuthorized(
        `You are not allowed to ${what}: the system's policy refused it, or authentication failed. ` +
          `Ask your administrator if you need it.${tag}`,
      );
  }
}
