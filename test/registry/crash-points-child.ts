// Run by crash-points.test.ts: opens the registry in argv[2] and makes the
// changes of the test's story, killing itself with SIGKILL on entering the
// argv[3]-th write, sync or rename (0: never). Prints "done" if it lives.
import fs from 'node:fs';
import { RegistryStore } from '../../src/registry/store';
import { mount } from './store-fixture';

export const ALICE = 61001;
export const BOB = 61002;
export const ALICE_BLOCK = 524288;
export const BOB_BLOCK = 589824;
/** Changes the child makes after freeing alice's block: enough to cross a compaction. */
export const CHURN = 12;

function killAt(n: number): void {
  if (n <= 0) return;
  let seen = 0;
  const patched = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['writeSync', 'fsyncSync', 'fdatasyncSync', 'renameSync']) {
    const real = patched[name];
    patched[name] = (...args: unknown[]) => {
      if (++seen === n) process.kill(process.pid, 'SIGKILL');
      return real(...args);
    };
  }
}

function main(): void {
  const [dir, at] = process.argv.slice(2);
  const store = new RegistryStore(dir);
  store.open();
  killAt(Number(at));
  store.update((s, freed) => {
    s.namespaces.delete(String(ALICE_BLOCK));
    freed.markFreed(ALICE_BLOCK, 100, ALICE);
  });
  for (let i = 0; i < CHURN; i++) store.update((s) => (s.mounts.get('1') ? s.mounts.delete('1') : s.mounts.insert(mount(1))));
  process.stdout.write('done\n');
}

if (require.main === module) main();
