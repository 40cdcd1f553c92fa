import test from 'ava';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, defaultConfig, loadConfig } from '../../src/config';
import { exampleConfigText } from '../../src/config/example';
import { configTree } from './fixture';

const dirs: string[] = [];
const tree = (files: Record<string, string>) => {
  const root = configTree(files);
  dirs.push(root);
  return root;
};
test.after.always(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('defaults are the documented values', (t) => {
  t.deepEqual(defaultConfig(), {
    daemon: { stateDir: '/run/nsmountd', logLevel: 'info', idleTimeoutSec: 0, registryLockTimeoutSec: 10, callsPerUid: 128, ioTimeoutSec: 30, ioCallsPerUid: 4 },
    pool: { first: 524288, last: 1879048191, quotaPerUid: 256, reclaimIntervalSec: 30, reuseAcrossUsers: false, setgroups: 'allow' },
    images: { directories: ['/var/lib/machines', '/var/lib/nsmountd/images', '/usr/lib/nsmountd/images'] },
    mounts: { attachmentsPerUid: 256 },
  });
});

test('defaultConfig returns a fresh object each time', (t) => {
  const a = defaultConfig();
  a.images.directories.push('/x');
  t.is(defaultConfig().images.directories.length, 3);
});

test('a complete file replaces every default', (t) => {
  const root = tree({
    'nsmountd.conf': `# all settings
[daemon]
state_dir = "/run/other"
log_level = "debug"
idle_timeout_sec = 60
calls_per_uid = 8
io_timeout_sec = 5
io_calls_per_uid = 2

[pool]
first = 0x100000
last = 0x1FFFFF   # two blocks... and more
quota_per_uid = 4
reclaim_interval_sec = 5
reuse_across_users = true
setgroups = "deny"

[images]
directories = [
  "/srv/images",
]
`,
  });
  t.deepEqual(loadConfig({ file: join(root, 'nsmountd.conf') }), {
    daemon: { stateDir: '/run/other', logLevel: 'debug', idleTimeoutSec: 60, registryLockTimeoutSec: 10, callsPerUid: 8, ioTimeoutSec: 5, ioCallsPerUid: 2 },
    pool: { first: 0x100000, last: 0x1fffff, quotaPerUid: 4, reclaimIntervalSec: 5, reuseAcrossUsers: true, setgroups: 'deny' },
    images: { directories: ['/srv/images'] },
    mounts: { attachmentsPerUid: 256 },
  });
});

test('settings a file leaves out keep their defaults', (t) => {
  const root = tree({ 'nsmountd.conf': '[pool]\nquota_per_uid = 8\n' });
  const expected = defaultConfig();
  expected.pool.quotaPerUid = 8;
  t.deepEqual(loadConfig({ file: join(root, 'nsmountd.conf') }), expected);
});

test('drop-ins apply in lexical order over the main file, key by key', (t) => {
  const root = tree({
    'nsmountd.conf': '[daemon]\nlog_level = "warn"\nidle_timeout_sec = 10\n[pool]\nquota_per_uid = 2\n',
    'nsmountd.conf.d/50-b.conf': '[daemon]\nlog_level = "trace"\n',
    'nsmountd.conf.d/10-a.conf': '[daemon]\nlog_level = "error"\n[images]\ndirectories = ["/a"]\n',
    'nsmountd.conf.d/90-c.conf': '[images]\ndirectories = ["/c"]\n',
    'nsmountd.conf.d/README': 'not a drop-in [[[',
    'nsmountd.conf.d/.#50-b.conf': 'editor lock file [[[',
  });
  const config = loadConfig({ file: join(root, 'nsmountd.conf') });
  t.is(config.daemon.logLevel, 'trace');
  t.is(config.daemon.idleTimeoutSec, 10);
  t.is(config.pool.quotaPerUid, 2);
  // Arrays are replaced, not appended.
  t.deepEqual(config.images.directories, ['/c']);
});

test('an explicit drop-in directory replaces ${file}.d', (t) => {
  const root = tree({
    'main.conf': '[pool]\nquota_per_uid = 2\n',
    'main.conf.d/1.conf': '[pool]\nquota_per_uid = 3\n',
    'elsewhere/1.conf': '[pool]\nquota_per_uid = 4\n',
  });
  t.is(loadConfig({ file: join(root, 'main.conf'), dropInDir: join(root, 'elsewhere') }).pool.quotaPerUid, 4);
});

test('an explicitly named missing file is an error naming it', (t) => {
  const root = tree({});
  const file = join(root, 'missing.conf');
  const err = t.throws(() => loadConfig({ file }), { instanceOf: ConfigError });
  t.true(err!.message.startsWith(`${file}: cannot read`));
});

test('a missing drop-in directory is fine', (t) => {
  const root = tree({ 'nsmountd.conf': '' });
  t.deepEqual(loadConfig({ file: join(root, 'nsmountd.conf') }), defaultConfig());
});

test('an unreadable drop-in is an error naming it', (t) => {
  const root = tree({ 'nsmountd.conf': '' });
  mkdirSync(join(root, 'nsmountd.conf.d/10-dir.conf'), { recursive: true });
  const err = t.throws(() => loadConfig({ file: join(root, 'nsmountd.conf') }), { instanceOf: ConfigError });
  t.true(err!.message.startsWith(`${join(root, 'nsmountd.conf.d/10-dir.conf')}: cannot read`));
});

test('the example file loads, and uncommented it still gives the defaults', (t) => {
  const text = exampleConfigText();
  const uncommented = text.replace(/^#([a-z_]+ = )/gm, '$1');
  t.not(uncommented, text);
  for (const body of [text, uncommented]) {
    const root = tree({ 'nsmountd.conf': body });
    t.deepEqual(loadConfig({ file: join(root, 'nsmountd.conf') }), defaultConfig());
  }
});
