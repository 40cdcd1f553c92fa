// The matrix's columns and outcomes: who calls (callers × the owner of the
// fixture they act on), the polkit rules in force, and what a cell may
// expect. table.ts holds the rows.
import { alice, bob, carol, dave, type TestUser } from '../helpers/users';

export const ERR = 'org.nsmount.NsMount1.Error.';
export const INTERACTIVE_REQUIRED = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired';
export const FOREIGN_ROOT = 2147352576;

export const ACTION = {
  allocate: 'org.nsmount.allocate-user-namespace',
  makeDirectory: 'org.nsmount.make-directory',
  idmap: 'org.nsmount.idmap-directory',
  idmapUntrusted: 'org.nsmount.idmap-directory-untrusted',
  unmountOthers: 'org.nsmount.unmount-others',
  mountImage: 'org.nsmount.mount-image',
  mountImageUntrusted: 'org.nsmount.mount-image-untrusted',
} as const;


export type CallerKind = 'root' | 'owner' | 'other' | 'denied' | 'challenged' | 'challengedInteractive';

export interface CallerSpec {
  kind: CallerKind;
  /** Who makes the call. */
  user: TestUser | 'root';
  /** Whose fixtures the call is about. */
  owner: TestUser;
  /** Sets ALLOW_INTERACTIVE_AUTHORIZATION. */
  interactive: boolean;
  label: string;
}

/** polkit rules in force while the cells run (fixtures are made before). */
export const RULES = `polkit.addRule(function (action, subject) {
  if (action.id.indexOf("org.nsmount.") != 0) return polkit.Result.NOT_HANDLED;
  if (subject.user == "${dave.name}") return polkit.Result.NO;
  if (subject.user == "${carol.name}") return polkit.Result.AUTH_ADMIN;
  return polkit.Result.NOT_HANDLED;
});`;

export const CALLERS: readonly CallerSpec[] = [
  { kind: 'root', user: 'root', owner: alice, interactive: false, label: 'root' },
  { kind: 'owner', user: alice, owner: alice, interactive: false, label: 'the owner' },
  { kind: 'other', user: bob, owner: alice, interactive: false, label: 'another user' },
  { kind: 'denied', user: dave, owner: dave, interactive: false, label: 'a user polkit denies' },
  { kind: 'challenged', user: carol, owner: carol, interactive: false, label: 'a challenged user, not interactive' },
  { kind: 'challengedInteractive', user: carol, owner: carol, interactive: true, label: 'a challenged user, interactive, no agent' },
];

/** The "other" column's caller. */
export const OTHER_USER = CALLERS.find((c) => c.kind === 'other')!.user as TestUser;

/** Users who own fixtures; each gets a directory and a held namespace. */
export const OWNERS: readonly TestUser[] = [...new Set(CALLERS.map((c) => c.owner))];


export type Outcome = { allow: true } | { error: string; action?: string };

export const allow: Outcome = { allow: true };
/** Refused by polkit: `error` is NotAuthorized or InteractiveAuthorizationRequired, naming `action`. */
export const notAuthorized = (action: string): Outcome => ({ error: ERR + 'NotAuthorized', action });
export const interactionRequired = (action: string): Outcome => ({ error: INTERACTIVE_REQUIRED, action });
/** Interaction allowed, but no polkit agent to ask. */
export const noAgent = (action: string): Outcome => ({ error: ERR + 'NotAuthorizedCanObtain', action });
/** Refused before polkit is asked. */
export const refused = (name: string): Outcome => ({ error: ERR + name });

/**
 * The three polkit-gated columns when the caller's own request needs
 * `action`: a NO rule denies it; an AUTH_ADMIN rule asks for interaction,
 * and with interaction allowed but no agent it is denied at once.
 */
export function gated(action: string): Pick<Record<CallerKind, Outcome>, 'denied' | 'challenged' | 'challengedInteractive'> {
  return { denied: notAuthorized(action), challenged: interactionRequired(action), challengedInteractive: noAgent(action) };
}
