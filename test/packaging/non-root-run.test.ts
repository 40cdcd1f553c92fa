// `npm test` as an ordinary user: root-only tests skip, each saying why,
// nothing fails, and nothing is left in the temp dir. The files run here
// are ones that once failed that way: rootTest.serial missing, a stack
// started in a hook (unshare: EPERM), temp dirs left behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rootTest } from '../helpers/root';
import { runAsUser } from '../helpers/as-user';
import { PACKAGE_ROOT } from '../helpers/paths';
import { alice } from '../helpers/users';

const FILES = ['dist/test/userns/pool-limits.test.js', 'dist/test/packaging/bus-policy.test.js', 'dist/test/registry/store.test.js'];

rootTest('npm test as an ordinary user skips root-only tests with a reason, fails none and leaves no temp dir', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nsmountd-non-root-'));
  try {
    fs.chownSync(tmp, alice.uid, alice.gid);
    const r = await runAsUser(alice, [process.execPath, 'scripts/test.js', ...FILES], {
      cwd: PACKAGE_ROOT,
      env: { TMPDIR: tmp, HOME: tmp },
      timeoutMs: 170000,
    });
    const summary = /^(\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(r.stdout);
    t.truthy(summary, `no summary line:\n${r.stdout}\n${r.stderr}`);
    t.is(r.code, 0, r.stdout.split('\n').filter((l) => l.startsWith('not ok')).join('\n'));
    t.is(summary?.[2], '0');
    const skipped = r.stdout.split('\n').filter((l) => /# SKIP/.test(l));
    t.true(skipped.length > 0, 'root-only tests are listed as skipped');
    t.deepEqual(
      skipped.filter((l) => !l.includes('(skipped: needs root')),
      [],
      'every skip says why',
    );
    t.deepEqual(fs.readdirSync(tmp), [], 'nothing left in the temp dir');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
