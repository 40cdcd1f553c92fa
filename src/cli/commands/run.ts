import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { CliError, UsageError } from '../errors';
import { openDirectory, openFile } from '../paths';
import { transientNamespaceName } from '../namespace-name';
import { containerEnvironment, runToCompletion } from '../container';
import type { Bind } from '../../native/container';
import type { OwnedFd } from '../../client/owned-fd';

export function parseBind(spec: string): Bind {
  const parts = spec.split(':');
  let readOnly = false;
  if (parts.length === 3 && (parts[2] === 'ro' || parts[2] === 'rw')) {
    readOnly = parts.pop() === 'ro';
  }
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new UsageError(`--bind takes SRC:DST or SRC:DST:ro, not "${spec}"`, 'run');
  }
  const source = path.resolve(parts[0]);
  if (!fs.existsSync(source)) throw new CliError(`bind source ${source} does not exist`);
  if (!parts[1].startsWith('/')) throw new UsageError(`bind target "${parts[1]}" must be an absolute path inside the container`, 'run');
  return { source, target: parts[1], readOnly };
}

export const run: Command = {
  name: 'run',
  summary: 'run a command as root in a foreign-owned rootfs or an image',
  help: `Usage: nsmountctl run (--rootfs DIR | --image IMG) [--bind SRC:DST[:ro]]... [--writable] [-- CMD ARGS...]

Starts CMD (default /bin/sh) as uid 0 of a fresh user namespace from
nsmountd, in new mount and pid namespaces pivoted into the rootfs, with a
fresh /proc, a minimal /dev (null, zero, full, random, urandom, tty) and a
tmpfs /tmp. Files it writes land on disk under the foreign range. The exit
status is CMD's (128+N when a signal ended it); standard input, output and
error are yours, so a terminal stays a terminal.

Options:
  --rootfs DIR          a directory tree, e.g. one made by "nsmountctl import-tar"
  --image IMG           a disk image; its root partition becomes the rootfs
  --bind SRC:DST[:ro]   make host path SRC visible at DST; repeatable
  --writable            mount the rootfs read-write (default: read-only)
`,
  options: {
    rootfs: { type: 'string' },
    image: { type: 'string' },
    bind: { type: 'string', multiple: true },
    writable: { type: 'boolean' },
  },
  positionals: { min: 0, max: Infinity, names: 'CMD ARGS...' },
  async run(ctx, { values, positionals, rest }) {
    const rootfs = values.rootfs as string | undefined;
    const image = values.image as string | undefined;
    if ((rootfs === undefined) === (image === undefined)) throw new UsageError('give exactly one of --rootfs DIR and --image IMG', 'run');
    const argv = rest.length > 0 ? rest : positionals.length > 0 ? positionals : ['/bin/sh'];
    const binds = ((values.bind as string[] | undefined) ?? []).map(parseBind);
    const readOnly = !values.writable;
    const sourceFd = rootfs !== undefined ? openDirectory(rootfs) : openFile(image!, { write: !readOnly });

    const owned: OwnedFd[] = [];
    const release = () => {
      for (const fd of owned) fd.close();
      fs.closeSync(sourceFd);
    };
    let started = false;
    try {
      const client = await ctx.client();
      const { userNamespace } = await client.allocateUserNamespace(transientNamespaceName('run'));
      owned.push(userNamespace);
      let root: OwnedFd;
      if (rootfs !== undefined) {
        root = await client.idmapDirectory(sourceFd, { userNamespace, mode: 'auto', readOnly });
        owned.push(root);
      } else {
        const parts = await client.mount(sourceFd, { userNamespace, readOnly: readOnly || undefined });
        owned.push(...parts.map((p) => p.mount));
        const chosen = parts.find((p) => p.designator === 'root') ?? (parts.length === 1 ? parts[0] : undefined);
        if (!chosen) throw new CliError(`${image} has no root partition (found: ${parts.map((p) => p.designator).join(', ')})`);
        root = chosen.mount;
      }
      started = true;
      return await runToCompletion(
        { userNamespaceFd: userNamespace.fd, rootFd: root.fd, container: true, argv, env: containerEnvironment(), binds },
        release,
      );
    } finally {
      if (!started) release();
    }
  },
};
