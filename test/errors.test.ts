// The contract (dbus/org.nsmount.NsMount1.Manager.xml) is where an app
// learns which errors exist; the classes in src/errors.ts are what the
// daemon sends. Each class names its error once, and these tests hold the
// two lists together in both directions.
import test from 'ava';
import fs from 'node:fs';
import * as errors from '../src/errors';
import { contractPath, readContract } from '../src/bus/introspection';

const documented = readContract(fs.readFileSync(contractPath(), 'utf8')).errors;

const errorClasses = Object.values(errors).filter(
  (value): value is typeof errors.NsMountError => typeof value === 'function' && value.prototype instanceof errors.NsMountError,
);
const sentBy = new Map(errorClasses.map((Class) => [Class.name, (Class as { dbusName?: string }).dbusName]));

test('every error class sends a name the contract documents', (t) => {
  t.true(errorClasses.length > 5);
  for (const [Class, name] of sentBy) t.true(name !== undefined && documented.includes(name), `${Class} sends ${name}, which the XML does not document`);
});

test('every nsmountd error the contract documents has a class that sends it', (t) => {
  const sent = new Set(sentBy.values());
  t.deepEqual(
    documented.filter((name) => name.startsWith(errors.ERROR_PREFIX) && !sent.has(name)),
    [],
  );
});

test('an instance carries its class name and its D-Bus name', (t) => {
  const quota = new errors.QuotaExceeded('too many');
  t.is(quota.dbusName, `${errors.ERROR_PREFIX}QuotaExceeded`);
  t.is(quota.name, 'QuotaExceeded');
  t.is(quota.message, 'too many');
  const bad = new errors.InvalidArgument('options.Mode', 'must be a string');
  t.is(bad.dbusName, `${errors.ERROR_PREFIX}InvalidArgument`);
  t.is(bad.message, 'options.Mode: must be a string');
  t.is(new errors.SystemError(5, 'open').dbusName, `${errors.ERROR_PREFIX}System`);
  t.is(new errors.NsMountError('re-sent', bad.dbusName).dbusName, bad.dbusName);
  t.throws(() => new errors.NsMountError('no name'), { instanceOf: TypeError });
});
