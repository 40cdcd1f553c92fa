// IdmapDirectory: a detached idmapped clone of a caller's directory,
// optionally attached at an empty directory of the caller's. Every check
// is made on the fds the caller passed, and those same fds are cloned and
// attached to: no caller path is ever resolved by the daemon.
import type { MethodDefinition, MethodReply } from '../bus/method';
import { parseOptions } from '../bus/options';
import { InvalidArgument, NotOwner } from '../errors';
import { attachAfterFinalCheck, checkAttachTarget, type OffThread } from '../mounts/attach';
import { requireDirectory } from '../idmap/file-kind';
import { isForeignId } from '../idmap/foreign-range';
import { idmapDirectory as idmapDirectoryDomain, type IdmapMode, type ResolvedIdmapMode } from '../idmap/idmap-directory';
import { classifyIdmapRequest, type TrustDecision } from '../idmap/trust';
import { directoryPath } from '../polkit/fd-path';
import type { MountRecord } from '../registry/state';
import type { Attachments } from '../mounts/attachments';
import { releaseDetachedMounts } from '../mounts/release';
import type { UserNamespaceAllocator } from '../userns/allocator';
import { asArgument, renameArgument } from './argument-errors';
import { checkTargetNamespace, type TargetNamespace } from '../idmap/target-namespace';
import { ACTIONS } from '../polkit/actions';

const OPTIONS = { UserNamespace: 'h', Mode: 's', ReadOnly: 'b', Recursive: 'b', AttachTo: 'h' } as const;
const MODES: readonly IdmapMode[] = ['foreign', 'owner', 'identity', 'auto'];
const ATTACH_TO = 'options.AttachTo';
const RECURSIVE_OPTION = 'options.Recursive';
const USER_NAMESPACE_OPTION = 'options.UserNamespace';

interface Params {
  directoryFd: number;
  userNamespaceFd?: number;
  mode: IdmapMode;
  readOnly: boolean;
  recursive: boolean;
  attachToFd?: number;
}

/** What checkFds found out about the passed fds. */
interface Checked {
  resolvedMode: ResolvedIdmapMode;
  target?: TargetNamespace;
  trust: TrustDecision;
  directoryPath: string;
  attachTo?: { fd: number; path: string };
}

export interface IdmapDirectoryDependencies {
  allocator: UserNamespaceAllocator;
  attachments: Attachments;
  /** Where an AttachTo target that may wait for its file system's server is looked into. */
  offThread?: OffThread;
}

export function idmapDirectory(deps: IdmapDirectoryDependencies): MethodDefinition<Params, Checked> {
  return {
    name: 'IdmapDirectory',
    inSignature: 'ha{sv}',
    outSignature: 'h',
    parse([directory, options]) {
      const parsed = parseOptions(options, OPTIONS);
      const mode = (parsed.Mode ?? 'auto') as IdmapMode;
      if (!MODES.includes(mode)) throw new InvalidArgument('options.Mode', `must be one of ${MODES.join(', ')}; got "${mode}"`);
      return {
        directoryFd: directory as number,
        userNamespaceFd: parsed.UserNamespace,
        mode,
        readOnly: parsed.ReadOnly ?? false,
        recursive: parsed.Recursive ?? false,
        attachToFd: parsed.AttachTo,
      };
    },
    checkFds(params, { caller }) {
      const stats = requireDirectory(params.directoryFd, 'directory');
      const resolvedMode = resolveMode(params.mode, stats.uid, caller.uid);
      const target =
        params.userNamespaceFd === undefined
          ? undefined
          : checkTargetNamespace(params.userNamespaceFd, { callerUid: caller.uid, allocations: deps.allocator, argument: USER_NAMESPACE_OPTION });
      if (resolvedMode === 'foreign' && !target) {
        throw new InvalidArgument(USER_NAMESPACE_OPTION, 'the foreign mode needs a user namespace to map the foreign range into');
      }
      let attachTo: Checked['attachTo'];
      let targetChecked: void | Promise<void> = undefined;
      if (params.attachToFd !== undefined) {
        const fd = params.attachToFd;
        targetChecked = asArgument(ATTACH_TO, () => checkAttachTarget(fd, caller.uid, deps.offThread), ['target']);
        attachTo = { fd, path: directoryPath(fd) };
      }
      // Decides the polkit action; may have to wait for the directory's
      // file system, and then runs on the pool like the target's check.
      const trust = classifyIdmapRequest(
        { directoryFd: params.directoryFd, callerUid: caller.uid, mode: resolvedMode },
        deps.offThread && { offThread: deps.offThread, uid: caller.uid },
      );
      const checked = (decision: TrustDecision): Checked => ({
        resolvedMode,
        target,
        trust: decision,
        directoryPath: directoryPath(params.directoryFd),
        attachTo,
      });
      if (!targetChecked && !(trust instanceof Promise)) return checked(trust);
      const targetDone = Promise.resolve(targetChecked).catch((err: unknown) => {
        throw renameArgument(err, ATTACH_TO, ['target']);
      });
      // Both settle before the call goes on, so neither is still at work
      // on the caller's fds once the dispatcher closes them.
      return Promise.allSettled([trust, targetDone]).then(([decision, done]) => {
        if (decision.status === 'rejected') throw decision.reason;
        if (done.status === 'rejected') throw done.reason;
        return checked(decision.value);
      });
    },
    chooseAction(params, _ctx, checked) {
      return {
        action: checked.trust.trusted ? ACTIONS.idmapDirectory : ACTIONS.idmapDirectoryUntrusted,
        details: {
          directory: checked.directoryPath,
          mode: checked.resolvedMode,
          read_only: String(params.readOnly),
          recursive: String(params.recursive),
          attach_to: checked.attachTo?.path ?? '',
          user_namespace: checked.target?.name ?? (checked.target ? '(not allocated by nsmountd)' : ''),
          reason: checked.trust.reason,
        },
      };
    },
    act(params, { caller }, checked) {
      const attachTo = checked.attachTo;
      if (!attachTo) return actNow(params, caller, checked, deps);
      // polkit may have taken a while: the target must still be empty and
      // unmounted when we attach, and no other call may attach there
      // between that last look and ours.
      return attachAfterFinalCheck(
        {
          targetFd: attachTo.fd,
          callerUid: caller.uid,
          offThread: deps.offThread,
          checkFailed: (err) => renameArgument(err, ATTACH_TO, ['target']),
        },
        () => actNow(params, caller, checked, deps),
      );
    },
  };
}

function actNow(params: Params, caller: { uid: number; gid: number }, checked: Checked, deps: IdmapDirectoryDependencies): MethodReply {
  let result;
  try {
    result = idmapDirectoryDomain({
      directoryFd: params.directoryFd,
      callerUid: caller.uid,
      callerGid: caller.gid,
      userNamespaceMaps: checked.target?.maps,
      mode: checked.resolvedMode,
      readOnly: params.readOnly,
      recursive: params.recursive,
      // Not negotiable for anyone but root: the ids a caller sees
      // through the mount are not ones it may run setuid programs or
      // open devices as.
      forceNosuidNodev: caller.uid !== 0,
    });
  } catch (err) {
    if (err instanceof InvalidArgument && err.argument === 'recursive') throw renameArgument(err, RECURSIVE_OPTION, ['recursive']);
    throw renameArgument(err, USER_NAMESPACE_OPTION, ['userNamespace']);
  }
  const mountFd = result.mountFd;
  let attached: MountRecord | undefined;
  try {
    const attachTo = checked.attachTo;
    if (attachTo) {
      attached = deps.attachments.attach({
        mountFd,
        targetFd: attachTo.fd,
        targetPath: attachTo.path,
        ownerUid: caller.uid,
        source: checked.directoryPath,
        kind: 'directory',
      });
    }
  } catch (err) {
    releaseDetachedMounts([mountFd]);
    throw err;
  }
  const record = attached;
  return {
    signature: 'h',
    body: [mountFd],
    ownedFds: [mountFd],
    undo: record && (() => deps.attachments.withdraw(record, mountFd)),
  };
}

/** Decided before authorization, so "auto" on a stranger's directory is refused without asking anyone. */
function resolveMode(mode: IdmapMode, ownerUid: number, callerUid: number): ResolvedIdmapMode {
  if (mode !== 'auto') return mode;
  if (isForeignId(ownerUid)) return 'foreign';
  if (ownerUid === callerUid) return 'owner';
  throw new NotOwner(
    `directory: owned by uid ${ownerUid}, which is neither the caller nor the foreign range; options.Mode "auto" cannot choose a mapping`,
  );
}
