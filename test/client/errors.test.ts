// A client learns the errors from the contract; errorFromDBus must give a
// class of its own to every one nsmountd documents, and the same one the
// daemon's class stands for.
import test from 'ava';
import fs from 'node:fs';
import { contractPath, readContract } from '../../src/bus/introspection';
import * as daemon from '../../src/errors';
import { errorFromDBus, NsMountDBusError, NSMOUNT_ERROR_PREFIX } from '../../src/client/errors';

const documented = readContract(fs.readFileSync(contractPath(), 'utf8')).errors;

test('both sides agree on the prefix of nsmountd errors', (t) => {
  t.is(NSMOUNT_ERROR_PREFIX, daemon.ERROR_PREFIX);
});

test('every nsmountd error the contract documents arrives as a class of its own', (t) => {
  const own = documented.filter((name) => name.startsWith(NSMOUNT_ERROR_PREFIX));
  t.true(own.length > 5);
  for (const name of own) {
    const err = errorFromDBus(name, 'message');
    t.not(err.constructor, NsMountDBusError, `${name} has no client class`);
    t.is(err.dbusName, name);
    t.is(err.message, 'message');
  }
});

test("each daemon error class arrives as the client class of the same name", (t) => {
  // The one rename: a client's SystemError would be confused with Node's.
  const clientName = (name: string) => (name === 'SystemError' ? 'SystemFailure' : name);
  for (const Class of Object.values(daemon)) {
    if (typeof Class !== 'function' || !(Class.prototype instanceof daemon.NsMountError)) continue;
    const name = (Class as { dbusName?: string }).dbusName!;
    t.is(errorFromDBus(name, 'message').constructor.name, clientName(Class.name), name);
  }
});

test('an undocumented name still gives an NsMountDBusError carrying it', (t) => {
  const err = errorFromDBus('org.example.Error.Odd', 'odd');
  t.is(err.constructor, NsMountDBusError);
  t.is(err.dbusName, 'org.example.Error.Odd');
});
