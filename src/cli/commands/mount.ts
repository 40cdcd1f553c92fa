import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { toJson } from '../command';
import { CliError, UsageError } from '../errors';
import { makeParents, openDirectoryPath, openFile, removeMadeDirectories } from '../paths';
import { formatTable } from '../table';
import type { MountMode } from '../../client/types';

const MODES: MountMode[] = ['identity', 'owner'];

export const mount: Command = {
  name: 'mount',
  summary: 'mount a disk image',
  help: `Usage: nsmountctl mount IMAGE [--attach TARGET] [--read-write | --read-only] [--mode MODE] [--partition P]... [--options OPTS]

Dissects IMAGE (a bare filesystem or a GPT disk image), mounts its
partitions and lists them. With --attach, the root partition (or the only
one) stays attached at TARGET, a directory you own (created, with its
parents, when missing; it must be empty), until "nsmountctl unmount
TARGET"; without it the mounts vanish when the command ends, so only the
listing is left.

When a mount is read-only:
  - with --read-only, always;
  - with neither flag, when the image is untrusted (trusted: owned by root,
    not writable by others, in one of the image directories of
    nsmountd.conf), when you may only read IMAGE, for squashfs and erofs,
    and for a GPT partition marked read-only;
  - with --read-write, only for squashfs and erofs and a GPT partition
    marked read-only; IMAGE must be writable by you.
The RO column of the listing says how each partition was mounted.

With --mode owner the files look like yours: the owner of each partition's
root directory (root for an image made by root, or the foreign root for a
foreign-owned one) appears as you, every other id as nobody, and files you
create are stored with that owner's ids. It changes neither whether the
mount is writable nor which authorization is needed.

Options:
  --attach TARGET    directory to attach the root partition at
  --read-write       mount writable, trusted image or not (see above)
  --read-only        mount read-only
  --mode MODE        identity: ids as stored in the image (default);
                     owner: the image's root owner appears as you
  --partition P      only this partition designator (root, home, srv, ...); repeatable
  --options OPTS     filesystem mount options, within the daemon's allowlist
                     (always needs the untrusted-image authorization)
`,
  options: {
    attach: { type: 'string' },
    'read-write': { type: 'boolean' },
    'read-only': { type: 'boolean' },
    mode: { type: 'string' },
    partition: { type: 'string', multiple: true },
    options: { type: 'string' },
  },
  positionals: { min: 1, max: 1, names: 'IMAGE' },
  argumentNames: ({ values, positionals }) => ({
    image: positionals[0] ?? 'IMAGE',
    'options.AttachTo': `--attach ${values.attach ?? ''}`.trim(),
    'options.Partitions': '--partition',
    'options.MountOptions': '--options',
    'options.Mode': `--mode ${values.mode ?? ''}`.trim(),
    'options.ReadOnly': values['read-write'] ? '--read-write' : '--read-only',
  }),
  async run(ctx, { values, positionals }) {
    const image = path.resolve(positionals[0]);
    if (values['read-write'] && values['read-only']) throw new UsageError('give at most one of --read-write and --read-only', 'mount');
    const mode = values.mode as MountMode | undefined;
    if (mode !== undefined && !MODES.includes(mode)) throw new UsageError(`--mode must be one of ${MODES.join(', ')}, not "${mode}"`, 'mount');
    const readOnly = values['read-only'] ? true : values['read-write'] ? false : undefined;
    let imageFd: number;
    if (readOnly === false) {
      try {
        imageFd = fs.openSync(image, fs.constants.O_RDWR);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
          throw new CliError(`--read-write needs ${image} to be writable by you`, 1, 'mount it without --read-write to get it read-only');
        }
        imageFd = openFile(image, { write: true });
      }
    } else {
      imageFd = openFile(image, { write: readOnly === undefined });
    }
    const attach = values.attach as string | undefined;
    const madeTarget = attach === undefined ? undefined : makeParents(attach);
    let attached = false;
    let targetFd: number | undefined;
    try {
      if (fs.fstatSync(imageFd).isDirectory()) throw new CliError(`${image} is a directory, not a disk image`);
      targetFd = attach === undefined ? undefined : openDirectoryPath(attach);
      const client = await ctx.client();
      const parts = await client.mount(imageFd, {
        readOnly,
        mode,
        partitions: values.partition as string[] | undefined,
        attachTo: targetFd,
        mountOptions: values.options as string | undefined,
      });
      attached = true;
      for (const p of parts) p.mount.close();
      const rows = parts.map(({ mount: _fd, ...rest }) => rest);
      if (ctx.json) {
        ctx.out(toJson({ image, attachedAt: attach === undefined ? null : path.resolve(attach), partitions: rows }));
        return 0;
      }
      ctx.out(
        formatTable(
          ['DESIGNATOR', 'FSTYPE', 'UUID', 'LABEL', 'OFFSET', 'SIZE', 'RO'],
          rows.map((r) => [r.designator, r.fstype, r.uuid || '-', r.label || '-', String(r.offset), String(r.size), r.readOnly ? 'yes' : 'no']),
        ),
      );
      if (attach !== undefined) ctx.out(`attached at ${path.resolve(attach)}\n`);
      else ctx.note('not attached (use --attach TARGET to keep a partition mounted)\n');
      return 0;
    } finally {
      fs.closeSync(imageFd);
      if (targetFd !== undefined) fs.closeSync(targetFd);
      if (!attached && attach !== undefined) removeMadeDirectories(attach, madeTarget);
    }
  },
};
