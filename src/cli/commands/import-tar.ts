import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { toJson } from '../command';
import { CliError } from '../errors';
import { openDirectory, openFile, splitParent } from '../paths';
import { transientNamespaceName } from '../namespace-name';
import { runToCompletion } from '../container';
import { listDeviceEntries } from '../tar-listing';
import type { OwnedFd } from '../../client/owned-fd';

export const importTar: Command = {
  name: 'import-tar',
  summary: 'unpack a tarball into a new foreign-owned directory, owners intact',
  help: `Usage: nsmountctl import-tar ARCHIVE DIR

Creates DIR (its parent must be yours) owned by the foreign range and
unpacks ARCHIVE into it as root of a fresh user namespace, through an
idmapped mount: every owner, mode (setuid included), symlink, hard link and
fifo is kept, with owner N stored on disk as ${2147352576}+N. No privileges
are needed. Device nodes cannot be created in a user namespace: they are
skipped with a warning. Afterwards "nsmountctl run --rootfs DIR" runs it.
Compressed archives are recognised by tar itself.
`,
  options: {},
  positionals: { min: 2, max: 2, names: 'ARCHIVE DIR' },
  async run(ctx, { positionals }) {
    const archive = path.resolve(positionals[0]);
    const dir = path.resolve(positionals[1]);
    const archiveFd = openFile(archive, { write: false });
    if (fs.fstatSync(archiveFd).isDirectory()) throw new CliError(`${archive} is a directory, not an archive`);
    const devices = listDeviceEntries(archiveFd);
    const { parent, name } = splitParent(dir);
    const parentFd = openDirectory(parent);

    const owned: OwnedFd[] = [];
    const release = () => {
      for (const fd of owned.splice(0)) fd.close();
      fs.closeSync(parentFd);
      fs.closeSync(archiveFd);
    };
    let started = false;
    try {
      const client = await ctx.client();
      const created = await client.makeDirectory(parentFd, name);
      owned.push(created);
      const { userNamespace } = await client.allocateUserNamespace(transientNamespaceName('import'));
      owned.push(userNamespace);
      const mount = await client.idmapDirectory(created, { userNamespace, mode: 'foreign' });
      owned.push(mount);
      for (const d of devices) ctx.note(`warning: skipping ${d.kind} device ${d.name} (${d.device}): a user namespace cannot create device nodes\n`);
      const argv = [
        'tar',
        '--extract',
        '--file=-',
        '--same-owner',
        '--numeric-owner',
        '--preserve-permissions',
        '--no-wildcards',
        '--anchored',
        ...devices.map((d) => `--exclude=${d.name}`),
      ];
      // The listing moved the shared offset to the end; a fresh open
      // description starts at 0 (and seeks, so tar can skip ahead).
      const archiveStart = fs.openSync(`/proc/self/fd/${archiveFd}`, fs.constants.O_RDONLY);
      started = true;
      const code = await runToCompletion(
        {
          userNamespaceFd: userNamespace.fd,
          rootFd: mount.fd,
          container: false,
          argv,
          env: { PATH: process.env.PATH || '/usr/bin:/bin', LANG: 'C.UTF-8' },
          stdinFd: archiveStart,
        },
        () => {
          fs.closeSync(archiveStart);
          release();
        },
      );
      if (code !== 0) throw new CliError(`tar failed with exit status ${code} while unpacking into ${dir} (what it did unpack stays there)`);
      const report = { archive, directory: dir, skippedDevices: devices };
      if (ctx.json) ctx.out(toJson(report));
      else ctx.out(`imported ${archive} into ${dir}${devices.length ? ` (${devices.length} device node(s) skipped)` : ''}\n`);
      return 0;
    } finally {
      if (!started) release();
    }
  },
};
