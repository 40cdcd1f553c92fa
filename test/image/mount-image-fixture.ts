// What the mountImage tests share: a directory for each file's images and
// two small ext4 filesystems to put in partitions, made once per file, and
// the ways they mount and look through an image.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { mountImage, type MountImageOptions, type MountedPartition } from '../../src/image/mount-image';
import { closeQuietly } from '../../src/native/fd';
import { rootSerial, rootSkipReason } from '../helpers/root';
import { TYPE_HOME, TYPE_ROOT_X86_64, makeExt4, makeGpt, tempDir } from '../helpers/images';

// Loop devices, fsopen and idmapped mounts need CAP_SYS_ADMIN in the
// initial namespaces.
// Serial: each test asserts that no loop device backed by the file's
// directory is left, which a concurrent test's live mount would break.
export const rootTest = rootSerial;

/** The file's image directory; set by useImageFiles' before hook. */
export let dir: string;
/** An ext4 filesystem labelled rootfs, with etc/os-release. */
export let rootFs: string;
/** An ext4 filesystem labelled homefs, with alice/notes. */
export let homeFs: string;

/** Registers the hooks that make (and remove) dir, rootFs and homeFs. */
export function useImageFiles(): void {
  test.before(() => {
    if (rootSkipReason) return;
    dir = tempDir('nsmountd-mount-');
    rootFs = makeExt4(dir, 'root.ext4', { sizeMiB: 8, label: 'rootfs', files: { 'etc/os-release': 'ID=test\n' } });
    homeFs = makeExt4(dir, 'home.ext4', { sizeMiB: 8, label: 'homefs', files: { 'alice/notes': 'hi\n' } });
  });
  test.after.always(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
}

export async function withImage<T>(image: string, flags: string | number, run: (fd: number) => T | Promise<T>): Promise<T> {
  const fd = fs.openSync(image, flags);
  try {
    return await run(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function mountFile(image: string, options: Partial<MountImageOptions> = {}, flags: string | number = 'r+'): Promise<MountedPartition[]> {
  return withImage(image, flags, (imageFd) => mountImage({ imageFd, readOnly: false, forceNosuidNodev: true, ...options }));
}

export function readThrough(mount: MountedPartition, file: string): string {
  return fs.readFileSync(path.join(`/proc/self/fd/${mount.mountFd}`, file), 'utf8');
}

export function closeAll(mounts: MountedPartition[]): void {
  for (const m of mounts) closeQuietly(m.mountFd);
}

/** A detached mount is in no mountinfo; writing through it tells whether it is read-only. */
export function isReadOnlyMount(mount: MountedPartition): boolean {
  try {
    fs.writeFileSync(path.join(`/proc/self/fd/${mount.mountFd}`, `probe-${process.pid}`), 'x');
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EROFS';
  }
}

export function gptRootHome(name: string): string {
  return makeGpt(dir, name, [
    { type: TYPE_ROOT_X86_64, sizeMiB: 8, content: rootFs },
    { type: TYPE_HOME, sizeMiB: 8, content: homeFs },
  ]).image;
}
