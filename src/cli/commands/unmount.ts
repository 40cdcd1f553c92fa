import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { toJson } from '../command';
import { openDirectoryPath } from '../paths';

export const unmount: Command = {
  name: 'unmount',
  summary: 'detach a mount nsmountd attached for you',
  help: `Usage: nsmountctl unmount TARGET

Detaches the mount at TARGET that "nsmountctl idmap --attach" or
"nsmountctl mount --attach" made. Other mounts are not nsmountd's to remove.
`,
  options: {},
  positionals: { min: 1, max: 1, names: 'TARGET' },
  async run(ctx, { positionals }) {
    const target = path.resolve(positionals[0]);
    const fd = openDirectoryPath(target);
    try {
      const client = await ctx.client();
      await client.unmount(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (ctx.json) ctx.out(toJson({ target, unmounted: true }));
    else ctx.out(`unmounted ${target}\n`);
    return 0;
  },
};
