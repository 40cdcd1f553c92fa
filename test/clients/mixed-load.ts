// Load client shared by the soak test and `npm run bench`. Runs as whichever
// user it was started as, one call in flight at a time, and prints one JSON
// line: per-method latency samples (ms), every unexpected answer, and the
// monotonic start and end of the timed part (comparable across processes,
// so a runner can turn many clients into one throughput figure).
//
//   --methods mixed       cycles AllocateUserNamespace, ListUserNamespaces,
//                         MakeDirectory, IdmapDirectory (the new directory
//                         into the new namespace), Mount, ListMounts
//   --methods NAME[,..]   only these, round robin (IdmapDirectory reuses one
//                         namespace and directory made before timing)
//   --barrier             after warm-up print {"ready":true} and wait for a
//                         line on stdin, so many clients start together
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import readline from 'node:readline';
import dbus from 'dbus-next';
import { connectBus } from '../../src/bus/connection';
import { callBus } from '../../src/bus/bus-call';
import { closeQuietly } from '../../src/native/fd';
import { METHODS, type LoadClientOutput, type LoadMethod } from './mixed-load-protocol';

const MANAGER = { destination: 'org.nsmount.NsMount1', path: '/org/nsmount/NsMount1', interface: 'org.nsmount.NsMount1.Manager' };
const O_PATH = 0o10000000;
const FOREIGN_SIZE = 65536;
const MAX_REPORTED_ERRORS = 20;

class WrongAnswer extends Error {}

/** `what` is a function: describing an answer costs more than checking it. */
function expect(ok: boolean, what: () => string): void {
  if (!ok) throw new WrongAnswer(what());
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string' },
      methods: { type: 'string', default: 'mixed' },
      calls: { type: 'string', default: '300' },
      warmup: { type: 'string', default: '12' },
      parent: { type: 'string' },
      image: { type: 'string' },
      tag: { type: 'string', default: String(process.pid) },
      barrier: { type: 'boolean', default: false },
    },
  });
  const mixed = values.methods === 'mixed';
  const methods = (mixed ? [...METHODS] : values.methods!.split(',')) as LoadMethod[];
  for (const m of methods) if (!METHODS.includes(m)) throw new Error(`unknown method ${m}`);
  const needs = (m: LoadMethod) => methods.includes(m);
  if ((needs('MakeDirectory') || needs('IdmapDirectory')) && !values.parent) throw new Error('--parent is needed for MakeDirectory and IdmapDirectory');
  if (needs('Mount') && !values.image) throw new Error('--image is needed for Mount');

  const bus = await connectBus({ address: values.address! });
  const call = (member: string, signature: string, body: unknown[]) => callBus(bus, { ...MANAGER, member, signature, body });
  const parentFd = values.parent ? fs.openSync(values.parent, O_PATH | fs.constants.O_DIRECTORY) : -1;
  const imageFd = values.image ? fs.openSync(values.image, 'r') : -1;
  let counter = 0;
  const unique = () => `load-${values.tag}-${counter++}`;

  // What the mixed cycle carries from one step to the next; closed when replaced.
  let namespaceFd = -1;
  let directoryFd = -1;
  const replaceNamespace = (fd: number) => (closeQuietly(namespaceFd), (namespaceFd = fd));
  const replaceDirectory = (fd: number) => (closeQuietly(directoryFd), (directoryFd = fd));

  const once: Record<LoadMethod, () => Promise<void>> = {
    AllocateUserNamespace: async () => {
      const [fd, base, size] = (await call('AllocateUserNamespace', 'sua{sv}', [unique(), 0, {}])) as [number, number, number];
      expect(typeof fd === 'number' && fd >= 0 && base > 0 && size === FOREIGN_SIZE, () => `AllocateUserNamespace answered ${fd}, ${base}, ${size}`);
      if (mixed) replaceNamespace(fd);
      else closeQuietly(fd);
    },
    ListUserNamespaces: async () => {
      const [list] = (await call('ListUserNamespaces', 'a{sv}', [{}])) as [unknown[]];
      expect(Array.isArray(list), () => 'ListUserNamespaces answered no array');
    },
    MakeDirectory: async () => {
      const [fd] = (await call('MakeDirectory', 'hsa{sv}', [parentFd, unique(), {}])) as [number];
      expect(typeof fd === 'number' && fd >= 0, () => `MakeDirectory answered ${fd}`);
      if (mixed) replaceDirectory(fd);
      else closeQuietly(fd);
    },
    IdmapDirectory: async () => {
      const options = { Mode: new dbus.Variant('s', 'foreign'), UserNamespace: new dbus.Variant('h', namespaceFd) };
      const [fd] = (await call('IdmapDirectory', 'ha{sv}', [directoryFd, options])) as [number];
      expect(typeof fd === 'number' && fd >= 0, () => `IdmapDirectory answered ${fd}`);
      closeQuietly(fd);
    },
    Mount: async () => {
      const [partitions] = (await call('Mount', 'ha{sv}', [imageFd, { ReadOnly: new dbus.Variant('b', true) }])) as [Array<unknown[]>];
      for (const p of partitions) closeQuietly(p[7] as number);
      expect(partitions.length === 1 && partitions[0][1] === 'ext4' && partitions[0][6] === true, () => `Mount answered ${partitions.map((p) => p.slice(0, 7).join(' ')).join('; ')}`);
    },
    ListMounts: async () => {
      const [list] = (await call('ListMounts', 'a{sv}', [{}])) as [unknown[]];
      expect(Array.isArray(list), () => 'ListMounts answered no array');
    },
  };

  if (!mixed && needs('IdmapDirectory')) {
    // One namespace and one foreign directory, made before timing, serve every IdmapDirectory.
    const [ns] = (await call('AllocateUserNamespace', 'sua{sv}', [unique(), 0, {}])) as [number];
    const [dir] = (await call('MakeDirectory', 'hsa{sv}', [parentFd, unique(), {}])) as [number];
    namespaceFd = ns;
    directoryFd = dir;
  }

  const output: LoadClientOutput = { samples: {}, errors: [], errorCount: 0, calls: 0, startMs: 0, endMs: 0 };
  const run = async (count: number, record: boolean) => {
    for (let i = 0; i < count; i++) {
      const method = methods[i % methods.length];
      const start = nowMs();
      try {
        await once[method]();
        if (record) (output.samples[method] ??= []).push(nowMs() - start);
      } catch (err) {
        const e = err as { errorName?: string; message: string };
        if (!record) throw err; // a broken set-up is not a load result
        output.errorCount++;
        if (output.errors.length < MAX_REPORTED_ERRORS) {
          output.errors.push({ method, name: err instanceof WrongAnswer ? 'wrong-answer' : (e.errorName ?? 'no-reply'), message: e.message });
        }
      }
      if (record) output.calls++;
    }
  };
  // Warm-up runs whole cycles, so the timed part starts at a cycle's beginning.
  const warmup = Math.ceil(Number(values.warmup) / methods.length) * methods.length;
  await run(warmup, false);
  if (values.barrier) {
    process.stdout.write(JSON.stringify({ ready: true }) + '\n');
    const lines = readline.createInterface({ input: process.stdin });
    await new Promise<void>((resolve) => lines.once('line', () => resolve()));
    lines.close();
  }
  output.startMs = nowMs();
  await run(Number(values.calls), true);
  output.endMs = nowMs();

  closeQuietly(namespaceFd);
  closeQuietly(directoryFd);
  closeQuietly(parentFd);
  closeQuietly(imageFd);
  bus.disconnect();
  process.stdout.write(JSON.stringify(output) + '\n');
}

main().catch((err: Error) => {
  process.stdout.write(JSON.stringify({ fatal: err.message }) + '\n');
  process.exit(2);
});
