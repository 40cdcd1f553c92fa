import test from 'ava';
import fs from 'node:fs';
import { runAsUser } from '../helpers/as-user';
import { rootTest } from '../helpers/root';
import { ADMINS_GROUP, TEST_USERS, alice, carol, dave, type TestUser } from '../helpers/users';

const exists = test.macro({
  async exec(t, user: TestUser) {
    const res = await runAsUser('root', ['id', user.name]);
    const groups = [user.gid, ...user.groups].map((g) => `${g}(`);
    t.is(res.code, 0, res.stderr);
    t.regex(res.stdout, new RegExp(`^uid=${user.uid}\\(${user.name}\\) gid=${user.gid}\\(${user.name}\\)`));
    for (const g of groups) t.true(res.stdout.includes(g), res.stdout);
  },
  title: (_ = '', user: TestUser) => `${user.name} exists with its ids and groups`,
});
for (const user of TEST_USERS) rootTest(exists, user);

rootTest('the admins group lists carol', async (t) => {
  const res = await runAsUser('root', ['getent', 'group', ADMINS_GROUP.name]);
  t.is(res.stdout.trim(), `${ADMINS_GROUP.name}:x:${ADMINS_GROUP.gid}:${carol.name}`);
});

rootTest('subordinate id ranges are the fixed ones; dave has none', (t) => {
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    t.true(lines.includes(`${alice.name}:${alice.subids!.start}:${alice.subids!.count}`), file);
    t.false(lines.some((l) => l.startsWith(`${dave.name}:`)), file);
  }
});

rootTest('runAsUser runs with the user\'s ids, its groups and no capabilities', async (t) => {
  const res = await runAsUser(carol, ['sh', '-c', 'id -u; id -g; id -G; grep CapEff /proc/self/status']);
  t.is(res.code, 0, res.stderr);
  const [uid, gid, groups, capEff] = res.stdout.trim().split('\n');
  t.is(uid, String(carol.uid));
  t.is(gid, String(carol.gid));
  t.deepEqual(groups.split(' ').map(Number).sort(), [carol.gid, ADMINS_GROUP.gid].sort());
  t.regex(capEff, /CapEff:\s+0+$/);
});

rootTest('runAsUser passes fds as 3, 4, ... and stdin input', async (t) => {
  const fd = fs.openSync('/etc/hostname', 'r');
  t.teardown(() => fs.closeSync(fd));
  const res = await runAsUser(alice, ['sh', '-c', 'readlink /proc/self/fd/3; cat'], { fds: [fd], input: 'hello' });
  t.is(res.stdout, '/etc/hostname\nhello');
});
