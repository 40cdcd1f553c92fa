// The state directory holds every caller's namespace names, uid ranges
// and mount paths, which the API shows a caller only for itself; and
// whoever can write it can plant a registry. So it is the daemon's alone:
// created 0700 with files 0600, and a daemon refuses to start on one that
// another user owns or that group or others may write.
import fs from 'node:fs';
import path from 'node:path';

const STATE_DIRECTORY_MODE = 0o700;
const STATE_FILE_MODE = 0o600;

export class UnsafeStateDirectory extends Error {}

/**
 * Creates `dir` (0700) if needed and checks it. An existing directory
 * that is merely readable by others (an older nsmountd made it 0755) is
 * tightened to 0700 with its files 0600; one writable by others or owned
 * by another user is refused with UnsafeStateDirectory.
 */
export function ensurePrivateStateDirectory(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: STATE_DIRECTORY_MODE });
  const st = fs.statSync(dir);
  const uid = process.geteuid?.() ?? 0;
  if (!st.isDirectory()) throw new UnsafeStateDirectory(`${dir} is not a directory`);
  if (st.uid !== uid) {
    throw new UnsafeStateDirectory(`${dir} is owned by uid ${st.uid}, not by the daemon's uid ${uid}; refusing to keep the registry there`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw new UnsafeStateDirectory(
      `${dir} is writable by ${st.mode & 0o020 ? 'its group' : 'others'} (mode 0${(st.mode & 0o7777).toString(8)}); ` +
        `make it 0700 (chmod 0700 ${dir}) or choose another --state-dir`,
    );
  }
  if ((st.mode & 0o077) === 0) return;
  // Best effort: a read-only file system cannot be tightened, and what
  // matters (nobody else can write) holds already.
  try {
    fs.chmodSync(dir, STATE_DIRECTORY_MODE);
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile()) fs.chmodSync(path.join(dir, entry.name), STATE_FILE_MODE);
    }
  } catch {
    // Left as it was.
  }
}
