import test from 'ava';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { OwnedFd } from '../../src/client/owned-fd';

test('close() closes the fd once; a second close touches nothing', (t) => {
  const owned = new OwnedFd(fs.openSync('/dev/null', 'r'));
  const fd = owned.fd;
  owned.close();
  t.throws(() => fs.fstatSync(fd), { code: 'EBADF' });
  // The number may be reused now; closing again must leave the new file alone.
  const reused = fs.openSync('/dev/null', 'r');
  try {
    owned.close();
    t.notThrows(() => fs.fstatSync(reused));
  } finally {
    fs.closeSync(reused);
  }
});

test('closing an fd needs no native library: OwnedFd does not load koffi', (t) => {
  const modulePath = path.resolve(__dirname, '../../src/client/owned-fd.js');
  const script = `
    const { OwnedFd } = require(${JSON.stringify(modulePath)});
    new OwnedFd(require('node:fs').openSync('/dev/null', 'r')).close();
    const loaded = Object.keys(require.cache).filter((m) => m.includes('/koffi/') || m.includes('/src/native/'));
    process.stdout.write(JSON.stringify(loaded));
  `;
  t.deepEqual(JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })), []);
});
