// idmapDirectory's mount options (nosuid/nodev, read-only, recursive), and
// that it decides on the fd it was given and leaks none.
import fs from 'node:fs';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { InvalidArgument } from '../../src/errors';
import { closeQuietly } from '../../src/native/fd';
import { idmapDirectory } from '../../src/idmap/idmap-directory';
import { CALLER, CALLER_NAMESPACE_MAPS, fdCount, FOREIGN, mountOptionsAt, OTHER, ownerSeenFrom } from './fixture';
import { mountAt, request, scratch, targetNs, useIdmapTree, withSubmount } from './idmap-directory-fixture';

useIdmapTree();

rootTest('non-root callers always get nosuid,nodev; root only when asked', (t) => {
  const cases = [
    { caller: CALLER, force: false, expected: true },
    { caller: { uid: 0, gid: 0 }, force: false, expected: false },
    { caller: { uid: 0, gid: 0 }, force: true, expected: true },
  ];
  for (const c of cases) {
    const s = scratch(t, OTHER);
    const result = mountAt(t, s, { mode: 'identity', callerUid: c.caller.uid, callerGid: c.caller.gid, forceNosuidNodev: c.force });
    const options = mountOptionsAt(s.target);
    t.is(result.nosuidNodev, c.expected);
    t.is(options.includes('nosuid'), c.expected, JSON.stringify(c));
    t.is(options.includes('nodev'), c.expected, JSON.stringify(c));
  }
});

rootTest('readOnly gives a read-only mount', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  mountAt(t, s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS, readOnly: true });
  t.true(mountOptionsAt(s.target).includes('ro'));
  t.throws(() => fs.writeFileSync(path.join(s.target, 'x'), ''), { code: 'EROFS' });
});

rootTest('recursive idmaps submounts too', (t) => {
  const s = withSubmount(t);
  mountAt(t, s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS, recursive: true });
  const inner = path.join(s.target, 'sub', 'inner');
  t.is(ownerSeenFrom(targetNs, inner), '1:1');
  const options = mountOptionsAt(path.join(s.target, 'sub'));
  for (const option of ['idmapped', 'nosuid', 'nodev']) t.true(options.includes(option), option);
});

rootTest('without recursive, a tree with mounts below is refused for callers other than root: they stay covered', (t) => {
  const s = withSubmount(t);
  const before = fdCount();
  t.throws(() => idmapDirectory(request(s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS, recursive: false })), {
    instanceOf: InvalidArgument,
    message: /^recursive: .*mounts below/,
  });
  t.is(fdCount(), before);
});

rootTest('without recursive, root gets the directory without its submounts', (t) => {
  const s = withSubmount(t);
  mountAt(t, s, { mode: 'identity', callerUid: 0, callerGid: 0, recursive: false });
  t.true(fs.existsSync(path.join(s.target, 'sub')));
  t.false(fs.existsSync(path.join(s.target, 'sub', 'inner')));
});

rootTest('decisions use the fd: a directory renamed and replaced after opening is still the one mounted', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  fs.writeFileSync(path.join(s.source, 'original'), '');
  fs.renameSync(s.source, s.source + '.moved');
  fs.mkdirSync(s.source);
  fs.chownSync(s.source, CALLER.uid, CALLER.gid);
  const result = mountAt(t, s, { mode: 'auto', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  t.is(result.resolvedMode, 'foreign');
  t.true(fs.existsSync(path.join(s.target, 'original')));
});

rootTest('success leaks no fd beyond the returned mount', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  const before = fdCount();
  const result = idmapDirectory(request(s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS, recursive: true }));
  t.is(fdCount(), before + 1);
  closeQuietly(result.mountFd);
  t.is(fdCount(), before);
});
