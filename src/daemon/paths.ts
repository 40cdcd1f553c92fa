import path from 'node:path';
import fs from 'node:fs';

/** Package root, whether running from dist/ or an installed tree. */
function packageRoot(): string {
  for (const candidate of [path.resolve(__dirname, '../../..'), path.resolve(__dirname, '../..')]) {
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
  }
  return path.resolve(__dirname, '../../..');
}

export const packageFile = (...parts: string[]) => path.join(packageRoot(), ...parts);
