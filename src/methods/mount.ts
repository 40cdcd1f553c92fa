// Mount: the partitions of a disk image as detached mounts, optionally
// idmapped through one of the caller's namespaces, optionally with the root
// partition attached at a directory of the caller's. Everything that reads
// the image runs off the event loop, within [daemon] io_timeout_sec and the
// caller's share of the pool (src/native/off-thread.ts), when the image may
// be on a FUSE or NFS server that never answers. An image on a local disk
// or memory file system is read on Node's thread; only LOOP_CONFIGURE and
// the mount, which sleep in the kernel, take one hop to the pool.
import type { MethodDefinition, MethodReply } from '../bus/method';
import { parseOptions } from '../bus/options';
import type { Config } from '../config';
import { InvalidArgument } from '../errors';
import { parseMountOptions } from '../image/filesystems';
import { mountImage, type MountedPartition } from '../image/mount-image';
import type { Attachments } from '../mounts/attachments';
import { needsLockedFlags } from '../mounts/lock';
import { releaseDetachedMounts } from '../mounts/release';
import { readImage, releaseAbandonedMounts, type OffThread } from '../image/off-thread-image';
import type { UserNamespaceAllocator } from '../userns/allocator';
import { asArgument, renameArgument } from './argument-errors';
import { attachAfterFinalCheck } from '../mounts/attach';
import { ATTACH_TO_OPTION, dissect, planMount, polkitDetails, type MountPlan, type MountRequest } from './mount-plan';
import { checkTargetNamespace } from '../idmap/target-namespace';
import { TrustedDissections } from '../image/trusted-dissections';
import { ACTIONS } from '../polkit/actions';

const OPTIONS = { ReadOnly: 'b', UserNamespace: 'h', Partitions: 'as', AttachTo: 'h', MountOptions: 's', Mode: 's' } as const;
const MODES = ['identity', 'owner'] as const;

interface Params extends MountRequest {
  userNamespaceFd?: number;
}

export interface MountDependencies {
  config: Config;
  allocator: UserNamespaceAllocator;
  attachments: Attachments;
  offThread: OffThread;
}

export function mount(deps: MountDependencies): MethodDefinition<Params, MountPlan> {
  const trustedDissections = new TrustedDissections();
  return {
    name: 'Mount',
    inSignature: 'ha{sv}',
    outSignature: 'a(ssssttbh)',
    parse([image, options]) {
      const parsed = parseOptions(options, OPTIONS);
      if (parsed.MountOptions !== undefined) {
        const text = parsed.MountOptions;
        // Syntax only; which keys a filesystem allows is known after dissection.
        asArgument('options.MountOptions', () => parseMountOptions(text));
      }
      if (parsed.Partitions?.length === 0) throw new InvalidArgument('options.Partitions', 'names no partition');
      const mode = parsed.Mode ?? 'identity';
      if (!(MODES as readonly string[]).includes(mode)) {
        throw new InvalidArgument('options.Mode', `must be one of ${MODES.join(', ')}; got "${mode}"`);
      }
      if (mode === 'owner' && parsed.UserNamespace !== undefined) {
        throw new InvalidArgument('options.Mode', '"owner" shows the image as the caller\'s own and cannot be combined with UserNamespace');
      }
      return {
        imageFd: image as number,
        readOnly: parsed.ReadOnly,
        partitions: parsed.Partitions,
        attachToFd: parsed.AttachTo,
        mountOptions: parsed.MountOptions,
        userNamespaceFd: parsed.UserNamespace,
        mode: mode as MountRequest['mode'],
      };
    },
    checkFds(params, { caller }) {
      if (params.userNamespaceFd !== undefined) {
        checkTargetNamespace(params.userNamespaceFd, { callerUid: caller.uid, allocations: deps.allocator, argument: 'options.UserNamespace' });
      }
      return planMount(params, {
        callerUid: caller.uid,
        imageDirectories: deps.config.images.directories,
        readImage: (mayWaitForServer, work) =>
          readImage({ offThread: deps.offThread, uid: caller.uid, imageFd: params.imageFd, mayWaitForServer, work }),
        offThread: deps.offThread,
        trustedDissections,
      });
    },
    // The image fd's close may wait exactly when reading it may (a block
    // device, or a file on a file system that may wait for a server): the
    // same statx and statmount close-fds.ts would make again.
    knownCloses: (params, plan) => new Map([[params.imageFd, plan.mayWaitForServer]]),
    // Only an attachment is stored (its limit read, its record written,
    // attachments.ts); the image, its loop devices and detached mounts are not.
    actLeavesRegistryAlone: (params) => params.attachToFd === undefined,
    chooseAction(params, _ctx, plan) {
      // MountOptions reach a filesystem driver parsing an image: never the
      // cheap action, whoever vouched for the image.
      const trusted = plan.trust.trusted && params.mountOptions === undefined;
      return {
        action: trusted ? ACTIONS.mountImage : ACTIONS.mountImageUntrusted,
        // Only polkit reads them, and root is not asked: no path lookups then.
        details: () => polkitDetails(params, plan),
      };
    },
    async act(params, { caller }, plan) {
      // Refused before the image is read or a loop device set up for nothing.
      if (params.attachToFd !== undefined) deps.attachments.ensureRoomFor(caller.uid);
      const { contents, mounted } = await readImage({
        offThread: deps.offThread,
        uid: caller.uid,
        imageFd: params.imageFd,
        mayWaitForServer: plan.mayWaitForServer,
        work: async (imageFd, { runner, signal }) => {
          // Authorized now: an untrusted image is read for the first time here.
          const contents = await dissect(params, plan, { imageFd, runner, signal });
          const mounted = await mountImage({
            imageFd,
            info: plan.info,
            readOnly: plan.readOnly,
            partitions: params.partitions,
            userNamespaceFd: params.userNamespaceFd,
            forceNosuidNodev: caller.uid !== 0,
            lockFlags: needsLockedFlags(caller.uid),
            mountOptions: params.mountOptions,
            dissected: contents.dissected,
            showOwnerAs: params.mode === 'owner' ? { uid: caller.uid, gid: caller.gid } : undefined,
            signal,
            runner,
          });
          return { contents, mounted };
        },
        abandoned: ({ mounted }) => releaseAbandonedMounts(deps.offThread, caller.uid, mounted),
      });
      let undo: (() => void) | undefined;
      try {
        if (plan.attachTarget) {
          // dissect() chose the attached partition among those mounted.
          const entry = mounted.find((m) => m.designator === contents.attachDesignator)!;
          const target = plan.attachTarget;
          // polkit and the image took a while: the target must still be
          // empty and unmounted when we attach, and no other call may
          // attach there between that last look and ours.
          const record = await attachAfterFinalCheck(
            {
              targetFd: target.fd,
              callerUid: caller.uid,
              offThread: deps.offThread,
              checkFailed: (err) => renameArgument(err, ATTACH_TO_OPTION, ['target']),
            },
            () =>
              deps.attachments.attach({
                mountFd: entry.mountFd,
                targetFd: target.fd,
                targetPath: target.path,
                ownerUid: caller.uid,
                source: plan.trust.path,
                kind: `image:${entry.designator}`,
              }),
          );
          undo = () => deps.attachments.withdraw(record, entry.mountFd);
        }
      } catch (err) {
        releaseDetachedMounts(mounted.map((m) => m.mountFd));
        throw err;
      }
      return { ...reply(mounted), undo };
    },
  };
}

function reply(mounted: MountedPartition[]): MethodReply {
  return {
    signature: 'a(ssssttbh)',
    body: [
      mounted.map((m) => [m.designator, m.fstype, m.uuid ?? '', m.label ?? '', m.offset, m.size, m.readOnly, m.mountFd]),
    ],
    ownedFds: mounted.map((m) => m.mountFd),
  };
}
