import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { toJson } from '../command';
import { openDirectoryPath, openFile } from '../paths';
import { formatTable } from '../table';

export const mount: Command = {
  name: 'mount',
  summary: 'mount a disk image',
  help: `Usage: nsmountctl mount IMAGE [--attach TARGET] [--read-only] [--partition P]... [--options OPTS]

Dissects IMAGE (a bare filesystem or a GPT disk image), mounts its
partitions and lists them. With --attach, the root partition (or the only
one) stays attached at TARGET, an empty directory you own, until
"nsmountctl unmount TARGET"; without it the mounts vanish when the command
ends, so only the listing is left.

Options:
  --attach TARGET    empty directory to attach the root partition at
  --read-only        mount read-only (also implied by an image you can only read)
  --partition P      only this partition designator (root, home, srv, ...); repeatable
  --options OPTS     filesystem mount options, within the daemon's allowlist
`,
  options: {
    attach: { type: 'string' },
    'read-only': { type: 'boolean' },
    partition: { type: 'string', multiple: true },
    options: { type: 'string' },
  },
  positionals: { min: 1, max: 1, names: 'IMAGE' },
  async run(ctx, { values, positionals }) {
    const image = path.resolve(positionals[0]);
    const readOnly = Boolean(values['read-only']);
    const imageFd = openFile(image, { write: !readOnly });
    const attach = values.attach as string | undefined;
    const targetFd = attach === undefined ? undefined : openDirectoryPath(attach);
    try {
      const client = await ctx.client();
      const parts = await client.mount(imageFd, {
        readOnly: readOnly || undefined,
        partitions: values.partition as string[] | undefined,
        attachTo: targetFd,
        mountOptions: values.options as string | undefined,
      });
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
    }
  },
};
