// The action ids the methods choose from (src/polkit/actions.ts) and the
// ones polkit learns from polkit/org.nsmount.policy must be the same set: an
// id only in the code is refused by polkit for everyone, one only in the
// policy is a permission nothing asks for.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { ACTIONS } from '../../src/polkit/actions';

const POLICY = path.resolve(__dirname, '../../../polkit/org.nsmount.policy');

test('polkit/org.nsmount.policy declares exactly the actions of src/polkit/actions.ts', (t) => {
  const declared = [...fs.readFileSync(POLICY, 'utf8').matchAll(/<action\s+id="([^"]+)"/g)].map((m) => m[1]);
  t.deepEqual([...declared].sort(), Object.values(ACTIONS).sort());
  t.is(new Set(declared).size, declared.length, 'an action is declared twice');
});
