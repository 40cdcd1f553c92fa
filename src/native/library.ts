// The only module that loads native code. Other modules in src/native/
// declare their functions against the handles exported here, so koffi and
// dlopen stay in one place.
import koffi from 'koffi';
import path from 'node:path';
import fs from 'node:fs';

function findLibrary(): string {
  // dist/src/native/library.js -> <package root>/build/libnsmount.so
  const candidates = [
    path.resolve(__dirname, '../../../build/libnsmount.so'),
    path.resolve(__dirname, '../../build/libnsmount.so'),
  ];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`libnsmount.so not found (looked in ${candidates.join(', ')}); run "npm run build:native"`);
}

export const libnsmount = koffi.load(findLibrary());

type KoffiLibrary = ReturnType<typeof koffi.load>;

let blkid: KoffiLibrary | undefined;
/** libblkid is loaded lazily: only image probing needs it. */
export function libblkid(): KoffiLibrary {
  blkid ??= koffi.load('libblkid.so.1');
  return blkid;
}

export { koffi };
