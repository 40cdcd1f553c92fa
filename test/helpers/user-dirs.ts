// Directories owned by a test user, inside a stack's base directory (which
// everyone can reach), for tests that need "a parent the user owns".
import fs from 'node:fs';
import path from 'node:path';
import type { TestUser } from './users';

export function userDirectory(baseDir: string, user: TestUser, name: string, mode = 0o755): string {
  const dir = path.join(baseDir, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.chownSync(dir, user.uid, user.gid);
  fs.chmodSync(dir, mode);
  return dir;
}
