import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { toJson } from '../command';
import { CliError } from '../errors';
import { openDirectoryPath } from '../paths';
import { NotFound } from '../../client/errors';

export const unmount: Command = {
  name: 'unmount',
  summary: 'detach a mount nsmountd attached for you',
  help: `Usage: nsmountctl unmount TARGET

Detaches the mount at TARGET that "nsmountctl idmap --attach" or
"nsmountctl mount --attach" made. Other mounts are not nsmountd's to remove.
`,
  options: {},
  positionals: { min: 1, max: 1, names: 'TARGET' },
  argumentNames: ({ positionals }) => ({ mount_point: positionals[0] ?? 'TARGET' }),
  async run(ctx, { positionals }) {
    const target = path.resolve(positionals[0]);
    const fd = openDirectoryPath(target);
    try {
      const client = await ctx.client();
      await client.unmount(fd);
    } catch (err) {
      // The daemon speaks of mount ids; the user named a directory.
      if (err instanceof NotFound) {
        throw new CliError(`nsmountd did not attach anything at ${target}`, 1, '"nsmountctl status" lists your attachments');
      }
      throw err;
    } finally {
      fs.closeSync(fd);
    }
    if (ctx.json) ctx.out(toJson({ target, unmounted: true }));
    else ctx.out(`unmounted ${target}\n`);
    return 0;
  },
};
