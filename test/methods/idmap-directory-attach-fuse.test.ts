// IdmapDirectory's AttachTo on a directory of a FUSE file system whose
// server stops answering. Checking that the target is empty (reading it)
// and not mounted over (looking its name up from its parent) asks the
// server, and used to wait for it on Node's only thread: every other
// caller stalled. What must hold now: attach-to-hanging-target.ts.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootSkipReason, rootTest } from '../helpers/root';
import { v } from '../helpers/call';
import { alice } from '../helpers/users';
import { useHangingFuse } from './fuse-fixture';
import { attachToHangingTarget } from './attach-to-hanging-target';

const fixture = useHangingFuse({ config: '[daemon]\nio_timeout_sec = 2\n' });

let source: string;
test.before(() => {
  if (rootSkipReason) return;
  source = path.join(fixture.base(), 'source');
  fs.mkdirSync(source, { mode: 0o755 });
  fs.chownSync(source, alice.uid, alice.gid);
});

rootTest.serial('AttachTo a directory on a hanging FUSE file system stalls nothing, times out with Unavailable and leaves nothing', async (t) => {
  await attachToHangingTarget(t, fixture, {
    call: { member: 'IdmapDirectory', signature: 'ha{sv}', body: [{ $fd: 3 }, { Mode: v('s', 'identity'), AttachTo: v('h', { $fd: 4 }) }] },
    openSource: () => fs.openSync(source, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY),
  });
});
