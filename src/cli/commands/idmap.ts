import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { toJson } from '../command';
import { UsageError } from '../errors';
import { openDirectory, openDirectoryPath } from '../paths';
import type { IdmapMode } from '../../client/types';

const MODES: IdmapMode[] = ['auto', 'owner', 'foreign', 'identity'];

export const idmap: Command = {
  name: 'idmap',
  summary: 'attach an idmapped view of a directory (portable home)',
  help: `Usage: nsmountctl idmap DIR --attach TARGET [--mode MODE] [--read-only] [--recursive]

Attaches an idmapped mount of DIR at TARGET, an empty directory you own. With
the default mode (auto) a directory you own is shown as yours whatever uid owns
its files on disk: a home directory carried between machines with different
uids. Undo it with "nsmountctl unmount TARGET".

Options:
  --attach TARGET   empty directory to attach at (required)
  --mode MODE       auto (default), owner, foreign or identity
  --read-only       attach read-only
  --recursive       include mounts below DIR
`,
  options: {
    attach: { type: 'string' },
    mode: { type: 'string' },
    'read-only': { type: 'boolean' },
    recursive: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1, names: 'DIR' },
  async run(ctx, { values, positionals }) {
    const target = values.attach as string | undefined;
    if (!target) throw new UsageError('--attach TARGET is required', 'idmap');
    const mode = (values.mode as IdmapMode | undefined) ?? 'auto';
    if (!MODES.includes(mode)) throw new UsageError(`--mode must be one of ${MODES.join(', ')}, not "${mode}"`, 'idmap');
    const dirFd = openDirectory(positionals[0]);
    const targetFd = openDirectoryPath(target);
    try {
      const client = await ctx.client();
      using mount = await client.idmapDirectory(dirFd, {
        mode,
        readOnly: Boolean(values['read-only']),
        recursive: Boolean(values.recursive),
        attachTo: targetFd,
      });
      void mount;
      const result = { source: path.resolve(positionals[0]), target: path.resolve(target), mode, readOnly: Boolean(values['read-only']) };
      if (ctx.json) ctx.out(toJson(result));
      else ctx.out(`attached ${result.source} at ${result.target} (${mode}${result.readOnly ? ', read-only' : ''})\n`);
      return 0;
    } finally {
      fs.closeSync(dirFd);
      fs.closeSync(targetFd);
    }
  },
};
