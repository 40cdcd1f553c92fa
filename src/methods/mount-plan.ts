// What a Mount call will do, worked out before authorization: polkit must
// be told the image, its filesystem types, read-only and the attach target,
// and those come from looking at the image. Dissection only reads (through
// a private fd, ~0.2 ms) and creates no loop device, so it is safe to do
// for a caller not yet authorized; act() then mounts exactly this plan.
import { InvalidArgument } from '../errors';
import { checkAttachTarget } from '../idmap/attach';
import { directoryPath } from '../idmap/trust';
import { dissectImage, mountableFileSystem, type DissectedImage, type DissectedPartition } from '../image/dissect';
import { inspectImageFd } from '../image/image-fd';
import { selectPartitions } from '../image/mount-image';
import { classifyImage, type ImageTrust } from '../image/trust';
import { asArgument } from './argument-errors';
import { plainText } from '../polkit/plain-text';

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
  dissected: DissectedImage;
  selected: DissectedPartition[];
  /** Read-only as asked (or defaulted), or forced by an O_RDONLY image fd. */
  readOnly: boolean;
  /** The partition attached at AttachTo, and where that is. */
  attach?: { designator: string; targetPath: string };
}

export interface PlanContext {
  callerUid: number;
  imageDirectories: readonly string[];
}

export function planMount(request: MountRequest, context: PlanContext): MountPlan {
  const info = inspectImageFd(request.imageFd);
  const trust: ImageTrust =
    info.kind === 'file'
      ? classifyImage(request.imageFd, { imageDirectories: context.imageDirectories })
      : { trusted: false, path: directoryPath(request.imageFd), reason: 'block devices are never trusted' };
  const dissected = dissectImage(request.imageFd, { sizeBytes: info.sizeBytes });
  const selected = selectPartitions(dissected.partitions, request.partitions);
  // Unsupported filesystems are refused before anyone is asked to approve them.
  for (const partition of selected) mountableFileSystem(partition);
  const readOnly = (request.readOnly ?? !trust.trusted) || info.readOnly;

  let attach: MountPlan['attach'];
  if (request.attachToFd !== undefined) {
    const fd = request.attachToFd;
    asArgument(ATTACH_TO_OPTION, () => checkAttachTarget(fd, context.callerUid), ['target']);
    attach = { designator: attachedDesignator(selected), targetPath: directoryPath(fd) };
  }
  return { trust, dissected, selected, readOnly, attach };
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
function imageLabel(plan: MountPlan): string {
  const main =
    plan.selected.find((p) => p.designator === plan.attach?.designator) ??
    plan.selected.find((p) => p.designator === 'root') ??
    plan.selected[0];
  const label = plainText(main?.label ?? '').trim();
  return label ? `labelled "${label}"` : `no label, ${main?.fstype ?? 'unknown'} file system`;
}

/** What polkit agents show and rules see. */
export function polkitDetails(request: MountRequest, plan: MountPlan): Record<string, string> {
  const details: Record<string, string> = {
    image: plan.trust.path,
    label: imageLabel(plan),
    trusted: String(plan.trust.trusted),
    filesystems: [...new Set(plan.selected.map((p) => p.fstype ?? ''))].join(','),
    partitions: plan.selected.map((p) => p.designator).join(','),
    read_only: String(plan.readOnly),
    mode: request.mode ?? 'identity',
  };
  if (plan.attach) details.attach_to = plan.attach.targetPath;
  if (request.mountOptions !== undefined) details.mount_options = request.mountOptions;
  return details;
}
