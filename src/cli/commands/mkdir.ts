import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { octalMode, toJson } from '../command';
import { UsageError } from '../errors';
import { makeParents, openDirectory, splitParent } from '../paths';
import { FOREIGN_UID_BASE } from '../../idmap/foreign-range';

function parseMode(text: string | undefined, command: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^0?[0-7]{1,4}$/.test(text)) throw new UsageError(`--mode must be an octal mode such as 0755, not "${text}"`, command);
  return parseInt(text, 8);
}

export const mkdir: Command = {
  name: 'mkdir',
  summary: 'create a directory owned by the foreign range',
  help: `Usage: nsmountctl mkdir [--mode MODE] PARENT/NAME

Creates NAME in PARENT, owned by the foreign range's root (uid ${FOREIGN_UID_BASE}):
nobody's files on the host, root's files inside any user namespace it is
idmapped into ("nsmountctl run --rootfs", "import-tar"). Missing parents
are created first, like "mkdir -p", owned by you; the last one must be yours.

Options:
  --mode MODE   octal permission bits (default 0755; o+w and special bits are dropped)
`,
  options: { mode: { type: 'string' } },
  positionals: { min: 1, max: 1, names: 'PARENT/NAME' },
  argumentNames: ({ positionals }) => ({ parent: path.dirname(path.resolve(positionals[0] ?? '.')), name: positionals[0] ?? '', 'options.Mode': '--mode' }),
  async run(ctx, { values, positionals }) {
    const mode = parseMode(values.mode as string | undefined, 'mkdir');
    const { parent, name } = splitParent(positionals[0]);
    makeParents(parent);
    const parentFd = openDirectory(parent);
    try {
      const client = await ctx.client();
      using dir = await client.makeDirectory(parentFd, name, { mode });
      const st = fs.fstatSync(dir.fd);
      const created = path.resolve(parent, name);
      if (ctx.json) ctx.out(toJson({ path: created, uid: st.uid, gid: st.gid, mode: octalMode(st.mode) }));
      else ctx.out(`created ${created} (owner ${st.uid}:${st.gid}, mode ${octalMode(st.mode)})\n`);
      return 0;
    } finally {
      fs.closeSync(parentFd);
    }
  },
};
