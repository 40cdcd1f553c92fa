// The audit trail at the service's default level, info: every change and
// every refusal or failure has its line; a read that succeeded only at debug.
import test from 'ava';
import { Writable } from 'node:stream';
import pino from 'pino';
import { logCall } from '../../src/bus/call-log';

const ERR = 'org.nsmount.NsMount1.Error.';

function linesAt(level: string, call: Call): Array<Record<string, unknown>> {
  const lines: string[] = [];
  const logger = pino({ level, base: undefined }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  logCall(logger, { method: 'AnyMethod', started: process.hrtime.bigint(), uid: 1000, readsOnly: call.readsOnly }, call.outcome);
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

type Call = { readsOnly?: boolean; outcome: string };

const atInfo = test.macro<[Call, boolean]>({
  exec(t, call, logged) {
    const lines = linesAt('info', call);
    t.is(lines.length, logged ? 1 : 0);
    if (logged) t.like(lines[0], { msg: 'call', method: 'AnyMethod', uid: 1000, outcome: call.outcome, level: 30 });
  },
  title: (_title, call, logged) => `a ${call.readsOnly ? 'read' : 'change'} ending ${call.outcome} ${logged ? 'is' : 'is not'} logged at info`,
});

test(atInfo, { outcome: 'ok' }, true);
test(atInfo, { outcome: 'undone' }, true);
test(atInfo, { outcome: `${ERR}NotAuthorized` }, true);
test(atInfo, { readsOnly: true, outcome: `${ERR}NotAuthorized` }, true);
test(atInfo, { readsOnly: true, outcome: 'org.freedesktop.DBus.Error.InvalidArgs' }, true);
test(atInfo, { readsOnly: true, outcome: 'ok' }, false);

test('a read that succeeded is logged at debug', (t) => {
  t.like(linesAt('debug', { readsOnly: true, outcome: 'ok' })[0], { msg: 'call', outcome: 'ok', level: 20 });
});
