// Every kind of bad setting must stop start-up with a message that names
// the file, the line and the key, so the administrator can go straight to it.
import test from 'ava';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { configTree } from './fixture';

const dirs: string[] = [];
test.after.always(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Case {
  /** Contents of nsmountd.conf, or of several files keyed by relative path. */
  files: string | Record<string, string>;
  /** Which file is blamed (relative); default nsmountd.conf. */
  file?: string;
  line: number;
  column?: number;
  /** undefined = the message carries no key (syntax errors). */
  key: string | undefined;
  problem: RegExp;
}

const rejects = test.macro({
  exec(t, c: Case) {
    const root = configTree(typeof c.files === 'string' ? { 'nsmountd.conf': c.files } : c.files);
    dirs.push(root);
    const err = t.throws(() => loadConfig({ file: join(root, 'nsmountd.conf') }), { instanceOf: ConfigError });
    const file = join(root, c.file ?? 'nsmountd.conf');
    const position = c.column === undefined ? `${file}:${c.line}` : `${file}:${c.line}:${c.column}`;
    const prefix = c.key === undefined ? `${position}: ` : `${position}: ${c.key}: `;
    t.true(err!.message.startsWith(prefix), `${JSON.stringify(err!.message)} should start with ${JSON.stringify(prefix)}`);
    t.regex(err!.message.slice(prefix.length), c.problem);
    t.is(err!.file, file);
    t.is(err!.line, c.line);
    t.is(err!.key, c.key);
  },
  title: (provided) => `rejects ${provided}`,
});

test('a syntax error, with line and column', rejects, {
  files: '[pool]\nquota_per_uid = 3\nfirst = \n',
  line: 3,
  column: 9,
  key: undefined,
  problem: /^invalid TOML: /,
});
test('an unknown section', rejects, {
  files: '[daemon]\nlog_level = "info"\n\n[poool]\nfirst = 65536\n',
  line: 4,
  key: 'poool',
  problem: /unknown section; expected \[daemon\], \[pool\], \[images\]/,
});
test('a setting outside any section', rejects, {
  files: '# comment\nlog_level = "info"\n',
  line: 2,
  key: 'log_level',
  problem: /unknown section/,
});
test('a section that is not a table', rejects, {
  files: '[[pool]]\nfirst = 65536\n',
  line: 1,
  key: 'pool',
  problem: /must be a table/,
});
test('an unknown key, found in its own section only', rejects, {
  // log_level is a real key of [daemon] on line 2; in [pool] it is unknown.
  files: '[daemon]\nlog_level = "info"\n[pool]\nlog_level = "info"\n',
  line: 4,
  key: 'pool.log_level',
  problem: /unknown key; expected one of first, last, quota_per_uid, reclaim_interval_sec/,
});
test('a string where an integer belongs', rejects, {
  files: '[pool]\nquota_per_uid = "8"\n',
  line: 2,
  key: 'pool.quota_per_uid',
  problem: /must be an integer >= 1/,
});
test('a float where an integer belongs', rejects, {
  files: '[pool]\n  quota_per_uid = 8.0\n',
  line: 2,
  key: 'pool.quota_per_uid',
  problem: /must be an integer >= 1/,
});
test('a zero quota', rejects, {
  files: '[daemon]\nlog_level = "info"\n\n[pool]\nquota_per_uid = 0\n',
  line: 5,
  key: 'pool.quota_per_uid',
  problem: /^must be an integer >= 1$/,
});
test('a negative idle timeout', rejects, {
  files: '[daemon]\nidle_timeout_sec = -1\n',
  line: 2,
  key: 'daemon.idle_timeout_sec',
  problem: /must be an integer >= 0/,
});
test('a zero reclaim interval', rejects, {
  files: '[pool]\nreclaim_interval_sec = 0\n',
  line: 2,
  key: 'pool.reclaim_interval_sec',
  problem: /must be an integer >= 1/,
});
test('an unknown log level', rejects, {
  files: '[daemon]\nlog_level = "verbose"\n',
  line: 2,
  key: 'daemon.log_level',
  problem: /must be one of "fatal", "error", "warn", "info", "debug", "trace"/,
});
test('a setgroups value other than allow or deny', rejects, {
  files: '[pool]\nsetgroups = "yes"\n',
  line: 2,
  key: 'pool.setgroups',
  problem: /must be one of "allow", "deny"/,
});
test('reuse across users given as a string', rejects, {
  files: '[pool]\nreuse_across_users = "no"\n',
  line: 2,
  key: 'pool.reuse_across_users',
  problem: /must be true or false/,
});
test('a relative state directory', rejects, {
  files: '[daemon]\nstate_dir = "run/nsmountd"\n',
  line: 2,
  key: 'daemon.state_dir',
  problem: /must be an absolute path/,
});
test('a relative image directory', rejects, {
  files: '[images]\ndirectories = ["/ok", "images"]\n',
  line: 2,
  key: 'images.directories',
  problem: /must be an array of absolute paths/,
});
test('image directories given as one string', rejects, {
  files: '[images]\ndirectories = "/srv/images"\n',
  line: 2,
  key: 'images.directories',
  problem: /must be an array of absolute paths/,
});
test('a pool start that is not a multiple of 65536', rejects, {
  files: '[pool]\nfirst = 600000\n',
  line: 2,
  key: 'pool.first',
  problem: /multiple of 65536/,
});
test('a pool start among the host users (below 65536)', rejects, {
  files: '[pool]\nfirst = 0\n',
  line: 2,
  key: 'pool.first',
  problem: /between 65536 and 4294967294/,
});
test('a pool end at (uid_t)-1', rejects, {
  files: '[pool]\nlast = 4294967295\n',
  line: 2,
  key: 'pool.last',
  problem: /between 65536 and 4294967294/,
});
test('a pool end before its start', rejects, {
  files: '[pool]\nfirst = 1048576\nlast = 524287\n',
  line: 3,
  key: 'pool.last',
  problem: /must hold at least one block of 65536 IDs/,
});
test('a pool smaller than one block', rejects, {
  files: '[pool]\nfirst = 1048576\nlast = 1114110\n',
  line: 3,
  key: 'pool.last',
  problem: /must hold at least one block of 65536 IDs/,
});
test('a pool overlapping the foreign range', rejects, {
  files: '[pool]\nlast = 2147352576\n',
  line: 2,
  key: 'pool.last',
  problem: /overlaps the foreign range 2147352576\.\.2147418111/,
});
test('a pool start inside the foreign range', rejects, {
  files: '[pool]\nfirst = 2147352576\nlast = 2147483647\n',
  line: 3,
  key: 'pool.last',
  problem: /overlaps the foreign range/,
});
test('a bad value in a drop-in, blamed on the drop-in', rejects, {
  files: {
    'nsmountd.conf': '[pool]\nquota_per_uid = 2\n',
    'nsmountd.conf.d/10-a.conf': '# override\n\n[pool]\nquota_per_uid = -2\n',
  },
  file: 'nsmountd.conf.d/10-a.conf',
  line: 4,
  key: 'pool.quota_per_uid',
  problem: /must be an integer >= 1/,
});
test('a pool broken by a drop-in, blamed on the drop-in that set it last', rejects, {
  files: {
    'nsmountd.conf': '[pool]\nfirst = 1048576\nlast = 2097151\n',
    'nsmountd.conf.d/20-b.conf': '[pool]\n\nfirst = 2097152\n',
  },
  file: 'nsmountd.conf.d/20-b.conf',
  line: 3,
  key: 'pool.first',
  problem: /must hold at least one block/,
});
test('a dotted top-level key', rejects, {
  files: '# comment\npool.quota_per_uid = 0\n',
  line: 2,
  key: 'pool.quota_per_uid',
  problem: /must be an integer >= 1/,
});
test('a quoted key', rejects, {
  files: '[pool]\n"quota_per_uid" = 0\n',
  line: 2,
  key: 'pool.quota_per_uid',
  problem: /must be an integer >= 1/,
});
