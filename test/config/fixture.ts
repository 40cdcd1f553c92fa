// Temporary config trees for the config tests.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Writes { relativePath: text } under a fresh directory and returns it. */
export function configTree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'nsmountd-config-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}
