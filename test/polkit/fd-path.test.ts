import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { O_DIRECTORY, O_PATH } from '../../src/native/dirfd';
import { directoryPath } from '../../src/polkit/fd-path';

test('directoryPath names the directory as the kernel does now', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-fd-path-'));
  const fd = fs.openSync(dir, O_PATH | O_DIRECTORY);
  try {
    t.is(directoryPath(fd), dir);
    fs.renameSync(dir, `${dir}-renamed`);
    t.is(directoryPath(fd), `${dir}-renamed`);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(`${dir}-renamed`, { recursive: true, force: true });
  }
});
