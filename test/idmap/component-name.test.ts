import test from 'ava';
import { InvalidArgument } from '../../src/errors';
import { validateComponentName } from '../../src/idmap/component-name';

const rejects = test.macro((t, name: unknown, reason: RegExp) => {
  const error = t.throws(() => validateComponentName(name, 'name'), { instanceOf: InvalidArgument });
  t.is(error?.argument, 'name');
  t.regex(error?.message ?? '', reason);
});

test('empty', rejects, '', /empty/);
test('slash', rejects, 'a/b', /single path component/);
test('leading slash', rejects, '/etc', /single path component/);
test('dot', rejects, '.', /must not be "\."/);
test('dot dot', rejects, '..', /must not be "\.\."/);
test('NUL', rejects, 'a\0b', /NUL/);
test('256 bytes', rejects, 'x'.repeat(256), /at most 255 bytes/);
test('255 bytes counted in UTF-8', rejects, 'é'.repeat(128), /at most 255 bytes/);
test('not a string', rejects, 42, /string/);

const accepts = test.macro((t, name: string) => {
  t.is(validateComponentName(name, 'name'), name);
});

test('plain', accepts, 'container');
test('dots inside', accepts, '...');
test('hidden', accepts, '.config');
test('255 bytes', accepts, 'x'.repeat(255));
