import test from 'ava';
import fs from 'node:fs';
import { privateBusConfig, SYSTEM_CONF } from '../../src/stack/bus-config';

const base = { socketPath: '/run/x/sock', includeDir: '/run/x/system.d', serviceDirs: ['/run/x/services'] };

const contains = test.macro({
  exec(t, serviceHelper: boolean, present: RegExp[], absent: RegExp[]) {
    const conf = privateBusConfig({ ...base, serviceHelper, template: fs.readFileSync(SYSTEM_CONF, 'utf8') });
    for (const re of present) t.regex(conf, re);
    for (const re of absent) t.notRegex(conf, re);
  },
  title: (provided = '') => `private bus config ${provided}`,
});

test(
  'listens only on our socket and includes only our dirs',
  contains,
  true,
  [/<listen>unix:path=\/run\/x\/sock<\/listen>/, /<includedir>\/run\/x\/system\.d<\/includedir>/, /<servicedir>\/run\/x\/services<\/servicedir>/],
  [/system_bus_socket/, /<includedir>system\.d/, /\/etc\/dbus-1/, /<standard_system_servicedirs\/>/, /<pidfile>/, /<syslog\/>/],
);
test('keeps the system policy and user', contains, true, [/<type>system<\/type>/, /<user>messagebus<\/user>/, /<deny send_type="method_call"\/>/, /<servicehelper>/], []);
test('drops the launch helper on request', contains, false, [], [/<servicehelper>/]);

test('rejects a template without a listen address', (t) => {
  t.throws(() => privateBusConfig({ ...base, serviceHelper: true, template: '<busconfig></busconfig>' }), { message: /<listen>/ });
});
