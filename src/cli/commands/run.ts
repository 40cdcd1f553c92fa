import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command';
import { CliError, UsageError } from '../errors';
import { openDirectory, openFile } from '../paths';
import { transientNamespaceName } from '../namespace-name';
import { containerEnvironment, runToCompletion, type Bind } from '../container';
import type { NsMountClient } from '../../client/client';
import type { OwnedFd } from '../../client/owned-fd';

interface BindSpec {
  source: string;
  target: string;
  readOnly: boolean;
}

function parseBind(spec: string): BindSpec {
  const parts = spec.split(':');
  let readOnly = false;
  if (parts.length === 3 && (parts[2] === 'ro' || parts[2] === 'rw')) {
    readOnly = parts.pop() === 'ro';
  }
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new UsageError(`--bind takes SRC:DST or SRC:DST:ro, not "${spec}"`, 'run');
  }
  const source = path.resolve(parts[0]);
  if (!parts[1].startsWith('/')) throw new UsageError(`bind target "${parts[1]}" must be an absolute path inside the container`, 'run');
  let st: fs.Stats;
  try {
    st = fs.statSync(source);
  } catch {
    throw new CliError(`bind source ${source} does not exist`);
  }
  if (!st.isDirectory()) throw new CliError(`bind source ${source} is not a directory`, 1, '--bind takes directories');
  return { source, target: parts[1], readOnly };
}

/** The directories a container's set-up mounts over; a rootfs needs them. */
const MOUNT_POINTS = ['proc', 'dev', 'tmp'];

/**
 * A bind source of the caller's own is idmapped so that its files appear
 * owned by the container's root; anything else (say /etc) is bound as it
 * is, its owners showing as nobody, as the daemon would only idmap another
 * user's directory with an administrator's consent.
 */
async function prepareBind(client: NsMountClient, spec: BindSpec, userNamespace: OwnedFd, owned: OwnedFd[]): Promise<Bind> {
  if (fs.statSync(spec.source).uid !== process.getuid?.()) return { source: spec.source, target: spec.target, readOnly: spec.readOnly };
  const dirFd = openDirectory(spec.source);
  try {
    const mount = await client.idmapDirectory(dirFd, { userNamespace, mode: 'owner', readOnly: spec.readOnly });
    owned.push(mount);
    return { mountFd: mount.fd, target: spec.target };
  } finally {
    fs.closeSync(dirFd);
  }
}

export const run: Command = {
  name: 'run',
  summary: 'run a command as root in a foreign-owned rootfs or an image',
  help: `Usage: nsmountctl run (--rootfs DIR | --image IMG) [--bind SRC:DST[:ro]]... [--writable] [-- CMD ARGS...]

Starts CMD (default /bin/sh) as uid 0 of a fresh user namespace from
nsmountd, in new mount and pid namespaces pivoted into the rootfs, with a
fresh /proc, a minimal /dev (null, zero, full, random, urandom, tty, and
your terminal under /dev/pts) and a tmpfs /tmp. A rootfs that lacks /proc,
/dev or /tmp gets them created (owned by its root). Files it writes land on
disk under the foreign range. CMD runs in a process group of its own, in
the terminal's foreground; SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1 and
SIGUSR2 sent to nsmountctl reach it. The exit status is CMD's (128+N when
signal N ended it); standard input, output and error are yours, so a
terminal stays a terminal.

Options:
  --rootfs DIR          a directory tree, e.g. one made by "nsmountctl import-tar"
  --image IMG           a disk image; its root partition becomes the rootfs
  --bind SRC:DST[:ro]   make host directory SRC visible at DST; repeatable. A
                        directory of yours appears owned by the container's
                        root; any other keeps its owners (shown as nobody)
  --writable            mount the rootfs read-write (default: read-only)
`,
  options: {
    rootfs: { type: 'string' },
    image: { type: 'string' },
    bind: { type: 'string', multiple: true },
    writable: { type: 'boolean' },
  },
  positionals: { min: 0, max: Infinity, names: 'CMD ARGS...' },
  argumentNames: ({ values }) => ({
    directory: `--rootfs ${values.rootfs ?? ''}`.trim(),
    image: `--image ${values.image ?? ''}`.trim(),
  }),
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
      for (const fd of owned.splice(0)) fd.close();
      fs.closeSync(sourceFd);
    };
    let started = false;
    try {
      const client = await ctx.client();
      const { userNamespace } = await client.allocateUserNamespace(transientNamespaceName('run'));
      owned.push(userNamespace);
      let root: OwnedFd;
      let writableRoot: OwnedFd | undefined;
      if (rootfs !== undefined) {
        root = await client.idmapDirectory(sourceFd, { userNamespace, mode: 'auto', readOnly });
        owned.push(root);
        // A minimal rootfs (a busybox tarball) may lack the mount points,
        // and a bind target may be new: the helper makes them through a
        // writable twin of the read-only mount.
        const needed = [...MOUNT_POINTS, ...binds.map((b) => b.target)];
        const missing = needed.filter((d) => !fs.existsSync(path.join(rootfs, d)));
        if (readOnly && missing.length > 0) {
          writableRoot = await client.idmapDirectory(sourceFd, { userNamespace, mode: 'auto' });
          owned.push(writableRoot);
        }
      } else {
        const parts = await client.mount(sourceFd, { userNamespace, readOnly });
        owned.push(...parts.map((p) => p.mount));
        const chosen = parts.find((p) => p.designator === 'root') ?? (parts.length === 1 ? parts[0] : undefined);
        if (!chosen) throw new CliError(`${image} has no root partition (found: ${parts.map((p) => p.designator).join(', ')})`);
        root = chosen.mount;
      }
      const bindMounts: Bind[] = [];
      for (const spec of binds) bindMounts.push(await prepareBind(client, spec, userNamespace, owned));
      started = true;
      return await runToCompletion(
        {
          userNamespaceFd: userNamespace.fd,
          rootFd: root.fd,
          writableRootFd: writableRoot?.fd,
          container: true,
          argv,
          env: containerEnvironment(),
          binds: bindMounts,
          rootName: rootfs !== undefined ? `the rootfs ${rootfs}` : `the image ${image}`,
        },
        release,
      );
    } finally {
      if (!started) release();
    }
  },
};
