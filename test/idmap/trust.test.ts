import test from 'ava';
import { rootTest } from '../helpers/root';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { closeQuietly } from '../../src/native/fd';
import type { IdmapMode } from '../../src/idmap/idmap-directory';
import { classifyIdmapRequest, MAX_ANCESTOR_LEVELS } from '../../src/idmap/trust';
import { CALLER, fdCount, FOREIGN, makeTree, OTHER, openPath, removeTree } from './fixture';

// Building trees owned by other and foreign uids, and mounting inside them, needs root.

let tree: string;
test.before(() => {
  tree = makeTree('trust');
});
test.after.always(() => removeTree(tree));

type Owner = 'caller' | 'other' | 'foreign' | 'root';
const IDS: Record<Owner, { uid: number; gid: number }> = {
  caller: CALLER,
  other: OTHER,
  foreign: { uid: FOREIGN, gid: FOREIGN },
  root: { uid: 0, gid: 0 },
};

interface Case {
  /** Owners from the top directory down to the one classified. */
  chain: Owner[];
  mode?: IdmapMode;
  callerUid?: number;
  /** Index in `chain` of a directory with a tmpfs mounted on it (its root gets the owner listed). */
  mountAt?: number;
  trusted: boolean;
  reason: RegExp;
}

const classify = test.macro({
  exec(t, c: Case) {
    let dir = fs.mkdtempSync(path.join(tree, 'case-'));
    fs.chmodSync(dir, 0o755);
    c.chain.forEach((owner, i) => {
      dir = path.join(dir, `d${i}`);
      fs.mkdirSync(dir);
      if (c.mountAt === i) execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', dir]);
      fs.chownSync(dir, IDS[owner].uid, IDS[owner].gid);
    });
    const fd = openPath(dir);
    t.teardown(() => closeQuietly(fd));
    const before = fdCount();
    const decision = classifyIdmapRequest({ directoryFd: fd, callerUid: c.callerUid ?? CALLER.uid, mode: c.mode ?? 'foreign' });
    t.is(decision.trusted, c.trusted, decision.reason);
    t.regex(decision.reason, c.reason);
    t.is(fdCount(), before, 'the walk closes what it opens');
  },
  title: (title = '') => title,
});

const deep = (levels: number): Owner[] => ['caller', ...Array<Owner>(levels - 1).fill('root'), 'foreign'];

rootTest('caller owns the directory', classify, { chain: ['root', 'caller'], trusted: true, reason: /caller owns the directory/ });
rootTest('caller owns it, owner mode', classify, { chain: ['caller'], mode: 'owner', trusted: true, reason: /caller owns/ });
rootTest('root caller', classify, { chain: ['other'], callerUid: 0, mode: 'owner', trusted: true, reason: /root/ });
rootTest('foreign, caller owns the parent', classify, { chain: ['caller', 'foreign'], trusted: true, reason: /1 level/ });
rootTest('foreign under foreign under root under caller', classify, {
  chain: ['caller', 'root', 'foreign', 'foreign'],
  trusted: true,
  reason: /3 level/,
});
rootTest(`foreign, caller owns the ancestor ${MAX_ANCESTOR_LEVELS} levels up`, classify, {
  chain: deep(MAX_ANCESTOR_LEVELS),
  trusted: true,
  reason: new RegExp(`${MAX_ANCESTOR_LEVELS} level`),
});
rootTest(`foreign, caller owns the ancestor ${MAX_ANCESTOR_LEVELS + 1} levels up`, classify, {
  chain: deep(MAX_ANCESTOR_LEVELS + 1),
  trusted: false,
  reason: /owns no ancestor/,
});
rootTest('foreign, nobody the caller knows above', classify, { chain: ['other', 'foreign'], trusted: false, reason: /owns no ancestor/ });
// The caller owns a directory higher up, but the foreign tree sits in another user's: it is theirs.
rootTest("foreign in another user's directory below the caller's", classify, {
  chain: ['caller', 'other', 'foreign'],
  trusted: false,
  reason: /owns no ancestor/,
});
rootTest("owner mode on a foreign directory in another user's directory below the caller's", classify, {
  chain: ['caller', 'other', 'foreign', 'foreign'],
  mode: 'owner',
  trusted: false,
  reason: /owns no ancestor/,
});
rootTest('foreign with auto mode too', classify, { chain: ['caller', 'foreign'], mode: 'auto', trusted: true, reason: /1 level/ });
rootTest('owner mode on a foreign directory below the caller: a portable home', classify, {
  chain: ['caller', 'foreign'],
  mode: 'owner',
  trusted: true,
  reason: /1 level/,
});
rootTest('owner mode on a foreign directory with no caller-owned ancestor', classify, {
  chain: ['other', 'foreign'],
  mode: 'owner',
  trusted: false,
  reason: /owns no ancestor/,
});
rootTest('owner mode on another user\'s directory', classify, {
  chain: ['caller', 'other'],
  mode: 'owner',
  trusted: false,
  reason: /owner mode on a directory owned by uid 61002/,
});
rootTest('someone else owns the directory', classify, { chain: ['caller', 'other'], trusted: false, reason: /uid 61002, neither/ });
rootTest('identity on someone else', classify, {
  chain: ['caller', 'other'],
  mode: 'identity',
  trusted: false,
  reason: /neither the caller nor the foreign range/,
});
rootTest('the walk does not cross into the mount below: the caller owns only the mount point', classify, {
  chain: ['caller', 'root', 'foreign'],
  mountAt: 1,
  trusted: false,
  reason: /owns no ancestor/,
});
rootTest('the root of the same mount counts', classify, {
  chain: ['root', 'caller', 'foreign'],
  mountAt: 1,
  trusted: true,
  reason: /1 level/,
});
rootTest('a foreign mount root itself has no ancestor on its mount', classify, {
  chain: ['caller', 'foreign'],
  mountAt: 1,
  trusted: false,
  reason: /owns no ancestor/,
});
