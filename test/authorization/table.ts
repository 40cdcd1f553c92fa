// The authorization matrix: every method of the Manager interface × its
// options that change who may call it × each kind of caller, with the
// outcome expected in each cell. matrix.test.ts turns every cell into an
// ava test against one live stack; coverage.test.ts checks that the
// contract has no method without a row here. The columns (callers.ts) and
// the fixtures a cell acts on (fixtures.ts) live next to it.
//
// How to read a row: the fixture (a directory, an attachment, an image, a
// namespace) belongs to the caller kind's `owner`. "other" is bob acting on
// alice's fixture, so the "other" column is "another user's directory /
// attachment / namespace". The polkit-gated kinds (denied, challenged) act
// on fixtures of their own, so the only thing that can refuse them is
// polkit, and the action polkit was asked about is asserted from the error
// message.
import fs from 'node:fs';
import path from 'node:path';
import type { SessionStep } from '../helpers/session';
import { v } from '../helpers/call';
import { alice } from '../helpers/users';
import { ACTION, FOREIGN_ROOT, allow, gated, interactionRequired, refused, type CallerKind, type Outcome } from './callers';
import { cellTarget, dataDir, homeDir, imageFd, listedTarget, lodgerHome, nestedDir, nsName, orphanDir, pathFd, untrustedImage, userDir, type Cell, type Prepare } from './fixtures';

export interface Row {
  /** Short and unique: used in fixture names. */
  id: string;
  method: string;
  signature: string;
  variant: string;
  prepare?: Prepare;
  /** The call's body. */
  body(cell: Cell): unknown[];
  /** Pass the owner's held namespace to the client (as Env.namespaceFd). */
  namespace?: boolean;
  /**
   * The call hands the caller mounts: every one given to a non-root caller
   * is checked for nosuid,nodev ("attached" also in the daemon's mountinfo).
   */
  mounts?: 'detached' | 'attached';
  /** Paths below each returned mount that are mounts of their own, checked like it. */
  submounts?: string[];
  /** Shell command run with the reply's fds ($FD_call_0, ...) when the call is expected to succeed. */
  then?: string;
  /** Checks of a successful reply beyond "it succeeded". */
  verify?(cell: Cell, body: unknown[], thenOutput: string): string | undefined;
  /** Whether the call's lasting effect is there: must be true exactly when the cell allows. */
  effect?(cell: Cell): boolean;
  expect: Record<CallerKind, Outcome>;
}

type Listed = Array<[string, number, ...unknown[]]>;

/** A non-root caller sees only its own entries; root sees the owner's too. */
function visibility(cell: Cell, entries: Listed, ownersEntry: (e: Listed[number]) => boolean): string | undefined {
  const callerUid = cell.caller.user === 'root' ? 0 : cell.caller.user.uid;
  if (callerUid !== 0) {
    const foreign = entries.filter((e) => e[1] !== callerUid);
    if (foreign.length) return `uid ${callerUid} sees entries of others: ${JSON.stringify(foreign)}`;
  }
  const seesOwners = entries.some(ownersEntry);
  const shouldSee = callerUid === 0 || callerUid === cell.caller.owner.uid;
  if (seesOwners !== shouldSee) return `the owner's entry is ${seesOwners ? '' : 'not '}listed`;
  return undefined;
}

export const ROWS: readonly Row[] = [
  {
    id: 'alloc',
    method: 'AllocateUserNamespace',
    signature: 'sua{sv}',
    variant: 'a 64K namespace',
    body: ({ caller }) => [`cell-${caller.kind}`, 0, {}],
    // The namespace is usable by the caller: it is root in it.
    then: 'nsenter --user=/proc/self/fd/$FD_call id -u',
    verify: (_cell, _body, out) => (out.trim() === '0' ? undefined : `id -u in the namespace printed ${JSON.stringify(out)}`),
    expect: { root: allow, owner: allow, other: allow, ...gated(ACTION.allocate) },
  },
  {
    id: 'lsns',
    method: 'ListUserNamespaces',
    signature: 'a{sv}',
    variant: 'with the owner holding a namespace',
    body: () => [{}],
    verify: (cell, body) => visibility(cell, body[0] as Listed, (e) => e[0] === nsName(cell.caller.owner) && e[1] === cell.caller.owner.uid),
    expect: { root: allow, owner: allow, other: allow, ...gated(ACTION.allocate) },
  },
  {
    id: 'mkdir',
    method: 'MakeDirectory',
    signature: 'hsa{sv}',
    variant: "in the owner's directory",
    body: ({ env, caller }) => [pathFd(userDir(env, caller.owner)), `made-by-${caller.kind}`, {}],
    then: 'stat -L -c "%u %g" /proc/self/fd/$FD_call',
    verify: (_cell, _body, out) => (out.trim() === `${FOREIGN_ROOT} ${FOREIGN_ROOT}` ? undefined : `the new directory is owned by ${out.trim()}`),
    effect: ({ env, caller }) => fs.existsSync(path.join(userDir(env, caller.owner), `made-by-${caller.kind}`)),
    expect: { root: allow, owner: allow, other: refused('NotOwner'), ...gated(ACTION.makeDirectory) },
  },
  {
    id: 'idmap-owner',
    method: 'IdmapDirectory',
    signature: 'ha{sv}',
    variant: "the owner's directory, Mode owner",
    body: ({ env, caller }) => [pathFd(dataDir(env, caller.owner)), { Mode: v('s', 'owner') }],
    mounts: 'detached',
    // Another user's directory in any mode would hand out that user's files.
    expect: { root: allow, owner: allow, other: interactionRequired(ACTION.idmapUntrusted), ...gated(ACTION.idmap) },
  },
  {
    id: 'idmap-recursive',
    method: 'IdmapDirectory',
    signature: 'ha{sv}',
    variant: "the owner's directory with a suid,dev submount, Mode owner, Recursive",
    body: ({ env, caller }) => [pathFd(nestedDir(env, caller.owner)), { Mode: v('s', 'owner'), Recursive: v('b', true) }],
    mounts: 'detached',
    // The cloned submount is handed out too: it must be nosuid,nodev as well.
    submounts: ['sub'],
    expect: { root: allow, owner: allow, other: interactionRequired(ACTION.idmapUntrusted), ...gated(ACTION.idmap) },
  },
  {
    id: 'idmap-auto',
    method: 'IdmapDirectory',
    signature: 'ha{sv}',
    variant: "the owner's directory, Mode auto (default)",
    body: ({ env, caller }) => [pathFd(dataDir(env, caller.owner)), {}],
    mounts: 'detached',
    // "auto" maps only the caller's own or foreign directories; it never
    // guesses for another user's, not even for root.
    expect: { root: refused('NotOwner'), owner: allow, other: refused('NotOwner'), ...gated(ACTION.idmap) },
  },
  {
    id: 'idmap-ns',
    method: 'IdmapDirectory',
    signature: 'ha{sv}',
    variant: "the owner's portable home into the owner's namespace (Mode foreign, UserNamespace)",
    namespace: true,
    body: ({ env, caller }) => [pathFd(homeDir(env, caller.owner)), { Mode: v('s', 'foreign'), UserNamespace: v('h', { $fd: env.namespaceFd }) }],
    mounts: 'detached',
    // Another user's namespace is refused before polkit: its maps are not the caller's to use.
    expect: { root: allow, owner: allow, other: refused('WrongNamespace'), ...gated(ACTION.idmap) },
  },
  {
    id: 'idmap-lodger',
    method: 'IdmapDirectory',
    signature: 'ha{sv}',
    variant: "the owner's portable home in the owner's directory inside another user's directory, Mode owner",
    body: ({ env, caller }) => [pathFd(lodgerHome(env, caller.owner)), { Mode: v('s', 'owner') }],
    mounts: 'detached',
    // bob owns a directory further up, but alice's lies between:
    // the foreign tree is hers, and would show bob her files as his own.
    expect: { root: allow, owner: allow, other: interactionRequired(ACTION.idmapUntrusted), ...gated(ACTION.idmap) },
  },
  {
    id: 'idmap-untrusted',
    method: 'IdmapDirectory',
    signature: 'ha{sv}',
    variant: 'a foreign directory below no directory of the caller (untrusted), Mode owner',
    body: ({ env }) => [pathFd(orphanDir(env)), { Mode: v('s', 'owner') }],
    mounts: 'detached',
    expect: {
      root: allow,
      owner: interactionRequired(ACTION.idmapUntrusted),
      other: interactionRequired(ACTION.idmapUntrusted),
      ...gated(ACTION.idmapUntrusted),
    },
  },
  {
    id: 'idmap-attach',
    method: 'IdmapDirectory',
    signature: 'ha{sv}',
    variant: "the owner's directory attached at the owner's empty directory (AttachTo)",
    prepare: { kind: 'target' },
    body: (cell) => [pathFd(dataDir(cell.env, cell.caller.owner)), { Mode: v('s', 'owner'), AttachTo: v('h', pathFd(cellTarget(cell.env, cell.row, cell.caller))) }],
    mounts: 'attached',
    effect: (cell) => cell.env.isMountPoint(cellTarget(cell.env, cell.row, cell.caller)),
    // bob may not attach at alice's directory; that is checked before polkit.
    expect: { root: allow, owner: allow, other: refused('NotOwner'), ...gated(ACTION.idmap) },
  },
  {
    id: 'unmount-dir',
    method: 'Unmount',
    signature: 'ha{sv}',
    variant: "the owner's idmapped directory attachment",
    prepare: { kind: 'attachment', via: 'IdmapDirectory' },
    body: (cell) => [pathFd(cellTarget(cell.env, cell.row, cell.caller)), {}],
    effect: (cell) => !cell.env.isMountPoint(cellTarget(cell.env, cell.row, cell.caller)),
    // Undoing one's own attachment needs the action that made it.
    expect: { root: allow, owner: allow, other: interactionRequired(ACTION.unmountOthers), ...gated(ACTION.idmap) },
  },
  {
    id: 'unmount-img',
    method: 'Unmount',
    signature: 'ha{sv}',
    variant: "the owner's image attachment",
    prepare: { kind: 'attachment', via: 'Mount' },
    body: (cell) => [pathFd(cellTarget(cell.env, cell.row, cell.caller)), {}],
    effect: (cell) => !cell.env.isMountPoint(cellTarget(cell.env, cell.row, cell.caller)),
    expect: { root: allow, owner: allow, other: interactionRequired(ACTION.unmountOthers), ...gated(ACTION.mountImage) },
  },
  {
    id: 'lsmounts',
    method: 'ListMounts',
    signature: 'a{sv}',
    variant: 'with the owner holding an attachment',
    body: () => [{}],
    // Only alice (the owner of every cell that is allowed to list) holds the listed attachment.
    verify: (cell, body) => visibility(cell, body[0] as Listed, (e) => e[0] === listedTarget(cell.env) && e[1] === alice.uid),
    expect: { root: allow, owner: allow, other: allow, ...gated(ACTION.idmap) },
  },
  {
    id: 'mount-trusted',
    method: 'Mount',
    signature: 'ha{sv}',
    variant: 'a trusted image',
    body: ({ env }) => [imageFd(env.trustedImage), {}],
    mounts: 'detached',
    expect: { root: allow, owner: allow, other: allow, ...gated(ACTION.mountImage) },
  },
  {
    id: 'mount-untrusted',
    method: 'Mount',
    signature: 'ha{sv}',
    variant: "an untrusted image (the owner's, in the owner's directory)",
    body: ({ env, caller }) => [imageFd(untrustedImage(env, caller.owner)), {}],
    mounts: 'detached',
    // A crafted image attacks the kernel: an administrator must agree, whoever owns the file.
    expect: {
      root: allow,
      owner: interactionRequired(ACTION.mountImageUntrusted),
      other: interactionRequired(ACTION.mountImageUntrusted),
      ...gated(ACTION.mountImageUntrusted),
    },
  },
  {
    id: 'mount-options',
    method: 'Mount',
    signature: 'ha{sv}',
    variant: 'a trusted image with MountOptions',
    body: ({ env }) => [imageFd(env.trustedImage), { MountOptions: v('s', 'noatime') }],
    mounts: 'detached',
    expect: {
      root: allow,
      owner: interactionRequired(ACTION.mountImageUntrusted),
      other: interactionRequired(ACTION.mountImageUntrusted),
      ...gated(ACTION.mountImageUntrusted),
    },
  },
  {
    id: 'mount-attach',
    method: 'Mount',
    signature: 'ha{sv}',
    variant: "a trusted image attached at the owner's empty directory (AttachTo)",
    prepare: { kind: 'target' },
    body: (cell) => [imageFd(cell.env.trustedImage), { AttachTo: v('h', pathFd(cellTarget(cell.env, cell.row, cell.caller))) }],
    mounts: 'attached',
    effect: (cell) => cell.env.isMountPoint(cellTarget(cell.env, cell.row, cell.caller)),
    expect: { root: allow, owner: allow, other: refused('NotOwner'), ...gated(ACTION.mountImage) },
  },
  {
    id: 'mount-ns',
    method: 'Mount',
    signature: 'ha{sv}',
    variant: "a trusted image idmapped into the owner's namespace (UserNamespace)",
    namespace: true,
    body: ({ env }) => [imageFd(env.trustedImage), { UserNamespace: v('h', { $fd: env.namespaceFd }) }],
    mounts: 'detached',
    expect: { root: allow, owner: allow, other: refused('WrongNamespace'), ...gated(ACTION.mountImage) },
  },
];

/** The session step of a cell. */
export function callStep(cell: Cell): SessionStep {
  return { name: 'call', member: cell.row.method, signature: cell.row.signature, body: cell.row.body(cell), interactive: cell.caller.interactive };
}
