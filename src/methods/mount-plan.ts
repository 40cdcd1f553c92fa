// What a Mount call will do. Before authorization only what the daemon
// sees from outside the image is known: where it lives (and so whether it
// is trusted), read-only and the attach target. Untrusted bytes reach
// libblkid, running as root, only once polkit agreed (dissect(), called
// from act()); a trusted image, which the administrator vouched for, is
// dissected at once, so polkit also sees its filesystems and label and an
// unsupported filesystem is refused before anyone is asked. Either way the
// reads run off the event loop within the call's time limit (readImage),
// unless the image cannot wait on a server (imageMayWaitForServer).
import { InvalidArgument } from '../errors';
import { checkAttachTarget, type OffThread } from '../mounts/attach';
import { directoryPath } from '../polkit/fd-path';
import { dissectImage, mountableFileSystem, type DissectedImage, type DissectedPartition } from '../image/dissect';
import { imageMayWaitForServer, inspectImageFd, type ImageFdInfo } from '../image/image-fd';
import type { ImageWork, ImageWorkContext } from '../image/off-thread-image';
import { selectPartitions } from '../image/mount-image';
import { classifyImage, type ImageTrust } from '../image/trust';
import type { TrustedDissections } from '../image/trusted-dissections';
import { asArgument, renameArgument } from './argument-errors';
import { plainText } from '../polkit/plain-text';
import { fdPath, type FdPath } from '../polkit/fd-path';

export const ATTACH_TO_OPTION = 'options.AttachTo';

export interface MountRequest {
  imageFd: number;
  /** The ReadOnly option; absent: read-only unless the image is trusted. */
  readOnly?: boolean;
  partitions?: string[];
  attachToFd?: number;
  mountOptions?: string;
  /** "owner": the root directory's owner appears as the caller. */
  mode?: 'identity' | 'owner';
}

export interface MountPlan {
  trust: ImageTrust;
  info: ImageFdInfo;
  /** Reading the image may wait for a FUSE or NFS server: it is read off the event loop. */
  mayWaitForServer: boolean;
  /**
   * The image's path when nsmountd's own mount namespace names it so.
   * Worked out when polkit is asked (polkitDetails), never for root.
   */
  imagePath?: FdPath;
  /** Read-only as asked (or defaulted), or forced by an O_RDONLY image fd. */
  readOnly: boolean;
  /** The AttachTo fd, checked, and the path polkit shows for it. */
  attachTarget?: { fd: number; path: string };
  /** Known before authorization for trusted images only; see dissect(). */
  contents?: DissectedContents;
}

export interface DissectedContents {
  dissected: DissectedImage;
  selected: DissectedPartition[];
  /** The partition attached at AttachTo. */
  attachDesignator?: string;
}

export interface PlanContext {
  callerUid: number;
  imageDirectories: readonly string[];
  /** Runs reads of the image: off the event loop within the call's time limit when they may wait for a server (src/image/off-thread-image.ts). */
  readImage: ImageReader;
  /** Where looking into an AttachTo target on FUSE or NFS runs, within the same limits. */
  offThread?: OffThread;
  /** Dissections of trusted images, reused while the file is unchanged; absent: always dissected. */
  trustedDissections?: TrustedDissections;
}

/** Runs `work` on the image: off the event loop, given its own fd and a signal aborted once the call gave up, when `mayWaitForServer`. */
export type ImageReader = <T>(mayWaitForServer: boolean, work: ImageWork<T>) => Promise<T>;

export async function planMount(request: MountRequest, context: PlanContext): Promise<MountPlan> {
  const info = inspectImageFd(request.imageFd);
  const trust: ImageTrust =
    info.kind === 'file'
      ? classifyImage(request.imageFd, { imageDirectories: context.imageDirectories, image: info.stat })
      : { trusted: false, path: directoryPath(request.imageFd), reason: 'block devices are never trusted' };
  const readOnly = (request.readOnly ?? !trust.trusted) || info.readOnly;
  let attachTarget: MountPlan['attachTarget'];
  if (request.attachToFd !== undefined) {
    const fd = request.attachToFd;
    const checking = asArgument(ATTACH_TO_OPTION, () => checkAttachTarget(fd, context.callerUid, context.offThread), ['target']);
    if (checking) {
      await checking.catch((err: unknown) => {
        throw renameArgument(err, ATTACH_TO_OPTION, ['target']);
      });
    }
    attachTarget = { fd, path: directoryPath(fd) };
  }
  const mayWaitForServer = imageMayWaitForServer(request.imageFd, info);
  const plan: MountPlan = { trust, info, mayWaitForServer, readOnly, attachTarget };
  if (trust.trusted) await dissectTrusted(request, plan, context);
  return plan;
}

/** A trusted image's contents, from the last dissection while the file is unchanged (trusted-dissections.ts). */
async function dissectTrusted(request: MountRequest, plan: MountPlan, context: PlanContext): Promise<void> {
  // Only a file whose attributes are exact: one that cannot wait for a server.
  const cache = plan.mayWaitForServer ? undefined : context.trustedDissections;
  const version = cache?.versionOf(request.imageFd);
  const known = version === undefined ? undefined : cache!.get(version);
  if (known) {
    plan.contents = contentsOf(request, known);
    return;
  }
  const contents = await context.readImage(plan.mayWaitForServer, (imageFd, through) => dissect(request, plan, { imageFd, ...through }));
  if (version !== undefined) cache!.remember(version, contents.dissected);
}

/**
 * Reads the image (libblkid) through `through.imageFd`, the work's fd of
 * the caller's image; for an untrusted image, only after authorization.
 */
export async function dissect(request: MountRequest, plan: MountPlan, through: ImageWorkContext & { imageFd: number }): Promise<DissectedContents> {
  if (plan.contents) return plan.contents;
  const dissected = await dissectImage(through.imageFd, { sizeBytes: plan.info.sizeBytes, runner: through.runner }, through.signal);
  through.signal?.throwIfAborted();
  plan.contents = contentsOf(request, dissected);
  return plan.contents;
}

/** What the request takes from a dissected image, or why it cannot. */
function contentsOf(request: MountRequest, dissected: DissectedImage): DissectedContents {
  const selected = selectPartitions(dissected.partitions, request.partitions);
  for (const partition of selected) mountableFileSystem(partition);
  const attachDesignator = request.attachToFd !== undefined ? attachedDesignator(selected) : undefined;
  return { dissected, selected, attachDesignator };
}

/** The root partition, or the only one: there is one mount point to fill. */
function attachedDesignator(selected: readonly DissectedPartition[]): string {
  if (selected.length === 1) return selected[0].designator;
  if (selected.some((p) => p.designator === 'root')) return 'root';
  throw new InvalidArgument(
    ATTACH_TO_OPTION,
    `the selected partitions (${selected.map((p) => p.designator).join(', ')}) include no root partition to attach`,
  );
}

/**
 * How a person would recognise the image: the label of the partition
 * that matters most (the attached one, else root, else the first), or
 * its file system when it has none. Labels come from the image's maker.
 */
function imageLabel(contents: DissectedContents | undefined): string {
  if (!contents) return 'contents not read before authorization';
  const main =
    contents.selected.find((p) => p.designator === contents.attachDesignator) ??
    contents.selected.find((p) => p.designator === 'root') ??
    contents.selected[0];
  const label = plainText(main?.label ?? '').trim();
  return label ? `labelled "${label}"` : `no label, ${main?.fstype ?? 'unknown'} file system`;
}

/** Shown instead of a path nsmountd could not confirm in its own mount namespace. */
export const IMAGE_ELSEWHERE = '(a file from another mount namespace, or renamed or deleted since it was opened)';

/** What polkit agents show and rules see. */
export function polkitDetails(request: MountRequest, plan: MountPlan): Record<string, string> {
  const imagePath = (plan.imagePath ??= fdPath(request.imageFd));
  const details: Record<string, string> = {
    image: imagePath.verified ? imagePath.path : IMAGE_ELSEWHERE,
    label: imageLabel(plan.contents),
    trusted: String(plan.trust.trusted),
    read_only: String(plan.readOnly),
    mode: request.mode ?? 'identity',
  };
  if (!imagePath.verified) details.image_unverified_path = imagePath.reported;
  if (plan.contents) {
    details.filesystems = [...new Set(plan.contents.selected.map((p) => p.fstype ?? ''))].join(',');
    details.partitions = plan.contents.selected.map((p) => p.designator).join(',');
  } else if (request.partitions) {
    details.partitions = request.partitions.join(',');
  }
  if (plan.attachTarget) details.attach_to = plan.attachTarget.path;
  if (request.mountOptions !== undefined) details.mount_options = request.mountOptions;
  return details;
}
