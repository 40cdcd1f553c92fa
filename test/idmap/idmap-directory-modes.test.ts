// idmapDirectory's modes: what foreign, owner, identity and auto show inside
// and outside the target namespace, and what writes through them land as.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { closeQuietly } from '../../src/native/fd';
import { type ResolvedIdmapMode } from '../../src/idmap/idmap-directory';
import { makeForeignDirectory } from '../../src/idmap/make-directory';
import { CALLER, CALLER_NAMESPACE_MAPS, FOREIGN, mountOptionsAt, OTHER, openPath, ownerOf, ownerSeenFrom, runAs, TARGET_BASE } from './fixture';
import { mountAt, scratch, targetNs, tree, useIdmapTree } from './idmap-directory-fixture';

useIdmapTree();

rootTest('foreign: foreign id F+k shows as k inside the target namespace and as its host id outside', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  fs.writeFileSync(path.join(s.source, 'file'), '');
  fs.chownSync(path.join(s.source, 'file'), FOREIGN + 5, FOREIGN + 7);
  const result = mountAt(t, s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  t.is(result.resolvedMode, 'foreign');
  t.deepEqual(result.idmap?.uidMap, [{ inside: FOREIGN, outside: TARGET_BASE, count: 65536 }]);

  t.is(ownerOf(path.join(s.target, 'file')), `${TARGET_BASE + 5}:${TARGET_BASE + 7}`);
  t.is(ownerSeenFrom(targetNs, path.join(s.target, 'file')), '5:7');
  t.is(ownerSeenFrom(targetNs, s.target), '0:0');
  // Without the mount the target namespace cannot map foreign ids at all.
  t.is(ownerSeenFrom(targetNs, path.join(s.source, 'file')), '65534:65534');
});

rootTest('foreign: what the target root creates through the mount lands on disk as foreign root', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  // So that a non-root id of the target may create entries too.
  fs.chmodSync(s.source, 0o777);
  mountAt(t, s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  runAs({ uid: TARGET_BASE, gid: TARGET_BASE }, 'mkdir', [path.join(s.target, 'made')]);
  runAs({ uid: TARGET_BASE + 1000, gid: TARGET_BASE + 1000 }, 'touch', [path.join(s.target, 'made-by-1000')]);
  t.is(ownerOf(path.join(s.source, 'made')), `${FOREIGN}:${FOREIGN}`);
  t.is(ownerOf(path.join(s.source, 'made-by-1000')), `${FOREIGN + 1000}:${FOREIGN + 1000}`);
});

rootTest('foreign: a host id outside the target cannot write through the mount', (t) => {
  const s = scratch(t, { uid: FOREIGN, gid: FOREIGN });
  fs.chmodSync(s.source, 0o777);
  mountAt(t, s, { mode: 'foreign', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  // Mode 777 lets it try; the id has no on-disk counterpart, so the kernel refuses (EOVERFLOW).
  t.throws(() => runAs(CALLER, 'touch', [path.join(s.target, 'by-caller')]));
  t.false(fs.existsSync(path.join(s.source, 'by-caller')));
});

rootTest('foreign on a directory made by makeForeignDirectory', (t) => {
  const parentFd = openPath(tree);
  const made = makeForeignDirectory(parentFd, 'made-foreign');
  closeQuietly(parentFd);
  t.teardown(() => closeQuietly(made));
  const target = path.join(tree, 'made-foreign-target');
  fs.mkdirSync(target);
  mountAt(t, { source: path.join(tree, 'made-foreign'), target, sourceFd: made }, { mode: 'auto', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  t.is(ownerSeenFrom(targetNs, target), '0:0');
});

rootTest('owner without a namespace: the owner shows as the caller and the caller writes as the owner', (t) => {
  for (const owner of [{ uid: FOREIGN, gid: FOREIGN }, OTHER]) {
    const s = scratch(t, owner);
    fs.writeFileSync(path.join(s.source, 'file'), '');
    fs.chownSync(path.join(s.source, 'file'), owner.uid, owner.gid);
    mountAt(t, s, { mode: 'owner' });
    t.is(ownerOf(s.target), `${CALLER.uid}:${CALLER.gid}`);
    t.is(ownerOf(path.join(s.target, 'file')), `${CALLER.uid}:${CALLER.gid}`);
    runAs(CALLER, 'touch', [path.join(s.target, 'new')]);
    t.is(ownerOf(path.join(s.source, 'new')), `${owner.uid}:${owner.gid}`);
  }
});

rootTest('owner with a namespace: the owner shows as the target root', (t) => {
  const s = scratch(t, OTHER);
  const result = mountAt(t, s, { mode: 'owner', userNamespaceMaps: CALLER_NAMESPACE_MAPS });
  t.deepEqual(result.idmap?.uidMap, [{ inside: OTHER.uid, outside: TARGET_BASE, count: 1 }]);
  t.is(ownerOf(s.target), `${TARGET_BASE}:${TARGET_BASE}`);
  t.is(ownerSeenFrom(targetNs, s.target), '0:0');
});

rootTest('identity: no idmap, ids as on disk', (t) => {
  const s = scratch(t, OTHER);
  const result = mountAt(t, s, { mode: 'identity' });
  t.is(result.idmap, undefined);
  t.is(ownerOf(s.target), `${OTHER.uid}:${OTHER.gid}`);
  t.false(mountOptionsAt(s.target).includes('idmapped'));
});

const autoResolves = test.macro({
  exec(t, owner: { uid: number; gid: number }, withNamespace: boolean, expected: ResolvedIdmapMode) {
    const s = scratch(t, owner);
    const result = mountAt(t, s, { mode: 'auto', userNamespaceMaps: withNamespace ? CALLER_NAMESPACE_MAPS : undefined });
    t.is(result.resolvedMode, expected);
  },
  title: (_ = '', owner: { uid: number }, withNamespace: boolean, expected: ResolvedIdmapMode) =>
    `auto on a directory of uid ${owner.uid} ${withNamespace ? 'with' : 'without'} a namespace is ${expected}`,
});
rootTest(autoResolves, { uid: FOREIGN, gid: FOREIGN }, true, 'foreign');
rootTest(autoResolves, { uid: FOREIGN + 100, gid: FOREIGN }, true, 'foreign');
rootTest(autoResolves, CALLER, false, 'owner');
rootTest(autoResolves, CALLER, true, 'owner');
