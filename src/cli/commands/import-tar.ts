import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { toJson } from '../command';
import { CliError } from '../errors';
import { makeParents, openDirectory, openFile, splitParent } from '../paths';
import { transientNamespaceName } from '../namespace-name';
import { runToCompletion } from '../container';
import { archiveFormat, listDeviceEntries } from '../tar-listing';
import { FOREIGN_UID_BASE } from '../../idmap/foreign-range';
import type { NsMountClient } from '../../client/client';
import { OwnedFd } from '../../client/owned-fd';

/**
 * The directory to unpack into: a new foreign-owned one, or the empty one
 * "nsmountctl mkdir" made (owned by the foreign root; anything else there is
 * somebody's data, not a place to unpack).
 */
async function targetDirectory(client: NsMountClient, dir: string): Promise<OwnedFd> {
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing) {
    if (!existing.isDirectory()) throw new CliError(`${dir} exists and is not a directory`);
    if (existing.uid !== FOREIGN_UID_BASE || fs.readdirSync(dir).length > 0) {
      throw new CliError(
        `${dir} already exists`,
        1,
        'import into a new directory, or an empty one made by "nsmountctl mkdir"',
      );
    }
    return new OwnedFd(openDirectory(dir));
  }
  const { parent, name } = splitParent(dir);
  makeParents(parent);
  const parentFd = openDirectory(parent);
  try {
    return await client.makeDirectory(parentFd, name);
  } finally {
    fs.closeSync(parentFd);
  }
}

export const importTar: Command = {
  name: 'import-tar',
  summary: 'unpack a tarball into a foreign-owned directory, owners intact',
  help: `Usage: nsmountctl import-tar ARCHIVE DIR

Unpacks ARCHIVE into DIR as root of a fresh user namespace, through an
idmapped mount: every owner, mode (setuid included), symlink, hard link and
fifo is kept, with owner N stored on disk as ${FOREIGN_UID_BASE}+N. No
privileges are needed. DIR is created owned by the foreign range (missing
parents like "mkdir -p", owned by you), or is the empty directory
"nsmountctl mkdir DIR" made. Device nodes cannot be created in a user
namespace: they are skipped with a warning. Afterwards
"nsmountctl run --rootfs DIR" runs it.

ARCHIVE may be a plain tar or one compressed with gzip, bzip2, xz or zstd
(recognised by its content, whatever its name).
`,
  options: {},
  positionals: { min: 2, max: 2, names: 'ARCHIVE DIR' },
  argumentNames: ({ positionals }) => ({ parent: path.dirname(path.resolve(positionals[1] ?? '.')), directory: positionals[1] ?? '' }),
  async run(ctx, { positionals }) {
    const archive = path.resolve(positionals[0]);
    const dir = path.resolve(positionals[1]);
    const archiveFd = openFile(archive, { write: false });

    const owned: OwnedFd[] = [];
    const release = () => {
      for (const fd of owned.splice(0)) fd.close();
      fs.closeSync(archiveFd);
    };
    let started = false;
    try {
      if (fs.fstatSync(archiveFd).isDirectory()) throw new CliError(`${archive} is a directory, not an archive`);
      const format = archiveFormat(archiveFd, archive);
      const devices = listDeviceEntries(archiveFd, format, archive);
      const client = await ctx.client();
      const created = await targetDirectory(client, dir);
      owned.push(created);
      const { userNamespace } = await client.allocateUserNamespace(transientNamespaceName('import'));
      owned.push(userNamespace);
      const mount = await client.idmapDirectory(created, { userNamespace, mode: 'foreign' });
      owned.push(mount);
      for (const d of devices) ctx.note(`warning: skipping ${d.kind} device ${d.name} (${d.device}): a user namespace cannot create device nodes\n`);
      const argv = [
        'tar',
        '--extract',
        ...(format.decompress ? [format.decompress] : []),
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
          rootName: dir,
        },
        () => {
          fs.closeSync(archiveStart);
          release();
        },
      );
      if (code !== 0) throw new CliError(`tar failed with exit status ${code} while unpacking into ${dir} (what it did unpack stays there)`);
      const report = { archive, directory: dir, compression: format.compression ?? null, skippedDevices: devices };
      if (ctx.json) ctx.out(toJson(report));
      else ctx.out(`imported ${archive} into ${dir}${devices.length ? ` (${devices.length} device node(s) skipped)` : ''}\n`);
      return 0;
    } finally {
      if (!started) release();
    }
  },
};
