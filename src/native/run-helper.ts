// Where the helper program that starts commands in a user namespace lives
// (native/helper/nsmount-run.c, built next to libnsmount.so). It is exec'd,
// never loaded: namespace set-up needs fork and libc, which are not safe
// in Node's own process.
import fs from 'node:fs';
import path from 'node:path';

export function runHelperPath(): string {
  // dist/src/native/run-helper.js -> <package root>/build/nsmount-run
  const candidates = [path.resolve(__dirname, '../../../build/nsmount-run'), path.resolve(__dirname, '../../build/nsmount-run')];
  for (const candidate of candidates) if (fs.existsSync(candidate)) return candidate;
  throw new Error(`nsmount-run not found (looked in ${candidates.join(', ')}); run "npm run build:native"`);
}
