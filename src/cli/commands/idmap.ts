import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { toJson } from '../command';
import { UsageError } from '../errors';
import { makeParents, openDirectory, openDirectoryPath, removeMadeDirectories } from '../paths';
import { openUserNamespaceByName } from '../user-namespace-lookup';
import { FOREIGN_UID_BASE } from '../../idmap/foreign-range';
import type { IdmapMode } from '../../client/types';
import type { OwnedFd } from '../../client/owned-fd';

const MODES: IdmapMode[] = ['auto', 'owner', 'foreign', 'identity'];

export const idmap: Command = {
  name: 'idmap',
  summary: 'attach an idmapped view of a directory (portable home)',
  help: `Usage: nsmountctl idmap DIR --attach TARGET [--mode MODE] [--userns NAME] [--read-only] [--recursive]

Attaches an idmapped mount of DIR at TARGET, an empty directory you own
(created, with its parents, when missing). Undo it with
"nsmountctl unmount TARGET".

Without --userns the mount is for you on the host, and the default mode is
owner: DIR's owner appears as you and every other id as nobody, whatever
uids its files have on disk. That is a portable home: a home directory
carried between machines with different uids, or stored foreign-owned.

With --userns NAME the ids are mapped for one of your live user namespaces
("nsmountctl status" lists them; a namespace lives while a program holds
it, e.g. a running "nsmountctl run"), and the default mode is auto.

Options:
  --attach TARGET   directory to attach at (required)
  --mode MODE       owner: DIR's owner appears as you (or as root of NAME);
                    foreign: foreign-owned ids ${FOREIGN_UID_BASE}+N appear as N
                      of NAME (needs --userns);
                    identity: ids as on disk;
                    auto: foreign for a foreign-owned DIR, owner for yours
  --userns NAME     map for your user namespace NAME
  --read-only       attach read-only
  --recursive       include mounts below DIR
`,
  options: {
    attach: { type: 'string' },
    mode: { type: 'string' },
    userns: { type: 'string' },
    'read-only': { type: 'boolean' },
    recursive: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1, names: 'DIR' },
  argumentNames: ({ values, positionals }) => ({
    directory: positionals[0] ?? 'DIR',
    'options.AttachTo': `--attach ${values.attach ?? ''}`.trim(),
    'options.UserNamespace': `--userns ${values.userns ?? ''}`.trim(),
    'options.Mode': `--mode ${values.mode ?? ''}`.trim(),
  }),
  async run(ctx, { values, positionals }) {
    const target = values.attach as string | undefined;
    if (!target) throw new UsageError('--attach TARGET is required', 'idmap');
    const userns = values.userns as string | undefined;
    const mode = (values.mode as IdmapMode | undefined) ?? (userns === undefined ? 'owner' : 'auto');
    if (!MODES.includes(mode)) throw new UsageError(`--mode must be one of ${MODES.join(', ')}, not "${mode}"`, 'idmap');
    if (mode === 'foreign' && userns === undefined) {
      throw new UsageError('--mode foreign maps ids for a user namespace: add --userns NAME', 'idmap');
    }
    const dirFd = openDirectory(positionals[0]);
    const madeTarget = makeParents(target);
    let attached = false;
    let namespace: OwnedFd | undefined;
    let targetFd: number | undefined;
    try {
      targetFd = openDirectoryPath(target);
      const client = await ctx.client();
      if (userns !== undefined) namespace = await openUserNamespaceByName(client, userns);
      using mount = await client.idmapDirectory(dirFd, {
        mode,
        userNamespace: namespace,
        readOnly: Boolean(values['read-only']),
        recursive: Boolean(values.recursive),
        attachTo: targetFd,
      });
      void mount;
      attached = true;
      const result = {
        source: path.resolve(positionals[0]),
        target: path.resolve(target),
        mode,
        userNamespace: userns ?? null,
        readOnly: Boolean(values['read-only']),
      };
      if (ctx.json) ctx.out(toJson(result));
      else ctx.out(`attached ${result.source} at ${result.target} (${mode}${result.readOnly ? ', read-only' : ''})\n`);
      return 0;
    } finally {
      fs.closeSync(dirFd);
      if (targetFd !== undefined) fs.closeSync(targetFd);
      namespace?.close();
      // Leave nothing behind that we made for a mount that did not happen.
      if (!attached) removeMadeDirectories(target, madeTarget);
    }
  },
};
