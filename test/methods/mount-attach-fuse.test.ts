// Mount's AttachTo on a directory of a FUSE file system whose server stops
// answering: the same looks into the target as IdmapDirectory's, which
// used to wait on Node's only thread. What must hold now:
// attach-to-hanging-target.ts; and no loop device of the image is left.
import test from 'ava';
import fs from 'node:fs';
import { rootSkipReason, rootTest } from '../helpers/root';
import { v } from '../helpers/call';
import { alice } from '../helpers/users';
import { loopDevicesUnder, makeExt4 } from '../helpers/images';
import { allowUntrustedImages } from '../helpers/polkit-rules';
import { useHangingFuse } from './fuse-fixture';
import { attachToHangingTarget } from './attach-to-hanging-target';

const fixture = useHangingFuse({ config: '[daemon]\nio_timeout_sec = 2\n', rules: allowUntrustedImages(alice) });

let image: string;
test.before(() => {
  if (rootSkipReason) return;
  // The image itself is on a local disk: only the target is on the hanging server.
  image = makeExt4(fixture.base(), 'local.ext4', { sizeMiB: 8 });
  fs.chmodSync(image, 0o644);
});

rootTest.serial('Mount with AttachTo a directory on a hanging FUSE file system stalls nothing, times out with Unavailable and leaves nothing', async (t) => {
  await attachToHangingTarget(t, fixture, {
    call: { member: 'Mount', signature: 'ha{sv}', body: [{ $fd: 3 }, { ReadOnly: v('b', true), AttachTo: v('h', { $fd: 4 }) }] },
    openSource: () => fs.openSync(image, fs.constants.O_RDONLY),
    leftovers: (t) => t.deepEqual(loopDevicesUnder(fixture.base()), [], 'loop devices of the image'),
  });
});
