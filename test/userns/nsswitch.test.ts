import test from 'ava';
import { nsswitchWarning, passwdGroupSources } from '../../src/userns/nsswitch';

const pool = { first: 524288, last: 1879048191 };

test('passwd and group sources are read without action items and comments', (t) => {
  t.deepEqual(
    passwdGroupSources('# c\npasswd: files [NOTFOUND=return] sss # x\ngroup:   files systemd winbind\nhosts: files dns ldap\n'),
    ['files', 'sss', 'systemd', 'winbind'],
  );
});

const warns = test.macro({
  exec(t, conf: string, expected: RegExp | undefined) {
    const warning = nsswitchWarning(conf, pool);
    if (expected === undefined) t.is(warning, undefined);
    else t.regex(warning ?? '', expected);
  },
  title: (what) => `nsswitch.conf ${what}`,
});
test('with local sources only gives no warning (Debian 12)', warns, 'passwd: files systemd\ngroup: files systemd\n', undefined);
test('with compat, db and extrausers gives none', warns, 'passwd: compat db extrausers\ngroup: compat\n', undefined);
test('with sss names it and the pool', warns, 'passwd: files sss\ngroup: files sss\n', /names sss for passwd or group: .* ids in the pool 524288\.\.1879048191/);
test('with ldap, winbind and mymachines names them all', warns, 'passwd: files ldap winbind\ngroup: files mymachines\n', /names ldap, winbind, mymachines/);
test('with other databases only gives none', warns, 'passwd: files\nhosts: files ldap\nnetgroup: nis\n', undefined);
