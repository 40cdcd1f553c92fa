import type { Command } from '../command';
import { toJson } from '../command';
import { formatTable } from '../table';
import { BLOCK_SIZE } from '../../userns/block';

function created(usec: bigint): string {
  return new Date(Number(usec / 1000n)).toISOString().replace(/\.\d+Z$/, 'Z');
}

export const status: Command = {
  name: 'status',
  summary: 'show the daemon, your user namespaces and your attachments',
  help: `Usage: nsmountctl status [--json]

Shows nsmountd's version, the kernel features it found, any warning about
its set-up (e.g. NSS sources whose users it cannot list), how much of the
uid pool is in use (as far as you may see: root sees every allocation, others
only their own), your live user namespaces and the mounts nsmountd attached
for you.
`,
  options: {},
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx) {
    const client = await ctx.client();
    const [props, namespaces, mounts] = await Promise.all([client.properties(), client.listUserNamespaces(), client.listMounts()]);
    const uid = process.getuid?.() ?? -1;
    // The daemon always reserves whole 64K blocks, whatever size was asked for.
    const reservedIds = namespaces.length * BLOCK_SIZE;
    const report = {
      address: ctx.address,
      version: props.version,
      features: props.features,
      warnings: props.warnings,
      foreignRange: { base: props.foreignUidBase, count: props.foreignUidCount },
      pool: { namespaces: namespaces.length, reservedIds },
      namespaces,
      mounts,
    };
    if (ctx.json) {
      ctx.out(toJson(report));
      return 0;
    }
    const foreignEnd = props.foreignUidBase + props.foreignUidCount - 1;
    ctx.out(`nsmountd ${props.version} on ${ctx.address}\n`);
    ctx.out(`features:      ${props.features.join(', ') || '(none)'}\n`);
    for (const warning of props.warnings) ctx.out(`warning:       ${warning}\n`);
    ctx.out(`foreign range: ${props.foreignUidBase}-${foreignEnd} (${props.foreignUidCount} ids)\n`);
    ctx.out(
      `pool:          ${namespaces.length} live namespace(s) ${uid === 0 ? 'in total' : 'of yours'}, ${reservedIds} ids reserved (64K blocks)\n\n`,
    );
    ctx.out('User namespaces:\n');
    if (namespaces.length === 0) ctx.out('  (none)\n');
    else
      ctx.out(
        formatTable(
          ['NAME', 'OWNER', 'UIDS', 'NAMESPACE ID', 'CREATED'],
          namespaces.map((n) => [n.name, String(n.ownerUid), `${n.base}-${n.base + n.size - 1}`, String(n.namespaceId), created(n.createdUsec)]),
        ),
      );
    ctx.out('\nAttachments:\n');
    if (mounts.length === 0) ctx.out('  (none)\n');
    else
      ctx.out(
        formatTable(
          ['TARGET', 'OWNER', 'KIND', 'SOURCE', 'MOUNT ID'],
          mounts.map((m) => [m.target, String(m.ownerUid), m.kind, m.source, String(m.mountId)]),
        ),
      );
    return 0;
  },
};
