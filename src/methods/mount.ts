// Mount: the partitions of a disk image as detached mounts, optionally
// idmapped through one of the caller's namespaces, optionally with the root
// partition attached at a directory of the caller's. Everything that reads
// the image runs off the event loop, within [daemon] io_timeout_sec and the
// caller's share of the pool (src/native/off-thread.ts): the image may be
// on a FUSE or NFS server that never answers.
import type { MethodDefinition, MethodReply } from '../bus/method';
import { parseOptions } from '../bus/options';
import type { Config } from '../config';
import { InvalidArgument } from '../errors';
import { parseMountOptions } from '../image/filesystems';
import { mountImage, type MountedPartition } from '../image/mount-image';
import type { Attachments } from '../mounts/attachments';
import { needsLockedFlags } from '../mounts/lock';
import { releaseDetachedMounts } from '../mounts/release';
import { closeOffThread, dupCloexec } from '../native/fd';
import type { OffThread } from '../native/off-thread';
import type { UserNamespaceAllocator } from '../userns/allocator';
import { asArgument } from './argument-errors';
import { dissect, planMount, polkitDetails, type MountPlan, type MountRequest } from './mount-plan';
import { checkTargetNamespace } from '../idmap/target-namespace';
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

/** Who did not answer, in the time-limit error. */
const IMAGE_FILE_SYSTEM = "The image's file system";

/**
 * Runs `work` off the event loop for `uid`, with its own fd of the image:
 * the caller's fd is closed when the call ends, which may be before the
 * work does (the call gave up), and its number would soon name another
 * file. `abandoned` takes back what work made after the call gave up.
 */
function readImageOffThread<T>(
  deps: MountDependencies,
  uid: number,
  imageFd: number,
  work: (imageFd: number, signal: AbortSignal) => Promise<T>,
  abandoned?: (result: T) => void,
): Promise<T> {
  return deps.offThread.run({
    uid,
    what: IMAGE_FILE_SYSTEM,
    // Runs while the call still waits for it (a job given up before it
    // started never starts), so the caller's fd is still open here.
    work: async (signal) => {
      const own = dupCloexec(imageFd);
      try {
        return await work(own, signal);
      } finally {
        // Closing a file on FUSE waits for the server (FLUSH).
        await closeOffThread(own);
      }
    },
    abandoned,
  });
}

/** Mounts made for a call that gave up on them: nobody gets them. */
function releaseAbandoned(deps: MountDependencies, uid: number, mounted: readonly MountedPartition[]): void {
  for (const { mountFd } of mounted) {
    // Unmounting the last reference may write to the image: off the event loop too.
    void deps.offThread.run({ uid, what: IMAGE_FILE_SYSTEM, patient: true, work: () => closeOffThread(mountFd) }).catch(() => {});
  }
}

export function mount(deps: MountDependencies): MethodDefinition<Params, MountPlan> {
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
        readImage: (work) => readImageOffThread(deps, caller.uid, params.imageFd, work),
      });
    },
    chooseAction(params, _ctx, plan) {
      // MountOptions reach a filesystem driver parsing an image: never the
      // cheap action, whoever vouched for the image.
      const trusted = plan.trust.trusted && params.mountOptions === undefined;
      return {
        action: trusted ? ACTIONS.mountImage : ACTIONS.mountImageUntrusted,
        details: polkitDetails(params, plan),
      };
    },
    async act(params, { caller }, plan) {
      // Refused before the image is read or a loop device set up for nothing.
      if (params.attachToFd !== undefined) deps.attachments.ensureRoomFor(caller.uid);
      const { contents, mounted } = await readImageOffThread(
        deps,
        caller.uid,
        params.imageFd,
        async (imageFd, signal) => {
          // Authorized now: an untrusted image is read for the first time here.
          const contents = await dissect(params, plan, { imageFd, signal });
          const mounted = await mountImage({
            imageFd,
            readOnly: plan.readOnly,
            partitions: params.partitions,
            userNamespaceFd: params.userNamespaceFd,
            forceNosuidNodev: caller.uid !== 0,
            lockFlags: needsLockedFlags(caller.uid),
            mountOptions: params.mountOptions,
            dissected: contents.dissected,
            showOwnerAs: params.mode === 'owner' ? { uid: caller.uid, gid: caller.gid } : undefined,
            signal,
          });
          return { contents, mounted };
        },
        ({ mounted }) => releaseAbandoned(deps, caller.uid, mounted),
      );
      let undo: (() => void) | undefined;
      try {
        if (plan.attachTarget) {
          // dissect() chose the attached partition among those mounted.
          const entry = mounted.find((m) => m.designator === contents.attachDesignator)!;
          const record = deps.attachments.attach({
            mountFd: entry.mountFd,
            targetFd: plan.attachTarget.fd,
            targetPath: plan.attachTarget.path,
            ownerUid: caller.uid,
            source: plan.trust.path,
            kind: `image:${entry.designator}`,
          });
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
