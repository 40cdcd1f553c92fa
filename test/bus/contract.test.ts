import test from 'ava';
import fs from 'node:fs';
import { buildMethods, type MethodDependencies } from '../../src/daemon/methods';
import { readContract, contractPath, Introspection, OBJECT_PATH } from '../../src/bus/introspection';

const xml = fs.readFileSync(contractPath(), 'utf8');
const contract = readContract(xml);
// Building the definitions touches none of the dependencies.
const methods = buildMethods({} as MethodDependencies);

test('every handler is in the contract with the same signatures', (t) => {
  for (const m of methods) {
    const documented = contract.methods.find((c) => c.name === m.name);
    t.truthy(documented, `${m.name} is missing from the XML`);
    t.is(documented?.inSignature, m.inSignature, `${m.name} in-signature`);
    t.is(documented?.outSignature, m.outSignature, `${m.name} out-signature`);
  }
});

test('every method in the contract has a handler', (t) => {
  const handled = new Set(methods.map((m) => m.name));
  t.deepEqual(contract.methods.filter((c) => !handled.has(c.name)).map((c) => c.name), []);
});

test('every method, argument and property carries a doc comment', (t) => {
  const iface = xml.slice(xml.indexOf('<interface name="org.nsmount.NsMount1.Manager"'));
  for (const m of contract.methods) {
    const at = iface.indexOf(`<method name="${m.name}"`);
    const comment = iface.slice(0, at).lastIndexOf('<!--');
    const docs = iface.slice(comment, at);
    t.true(docs.includes(`${m.name}:`), `${m.name} has no doc comment`);
    for (const arg of m.args) t.true(docs.includes(`@${arg.name}:`), `${m.name} argument ${arg.name} is undocumented`);
  }
  for (const p of contract.properties) {
    const at = iface.indexOf(`<property name="${p.name}"`);
    t.true(iface.slice(iface.slice(0, at).lastIndexOf('<!--'), at).includes(`${p.name}:`), `property ${p.name} is undocumented`);
  }
});

test('introspection data for the object embeds the contract interface', (t) => {
  const intro = new Introspection(xml);
  const data = intro.forPath(OBJECT_PATH)!;
  t.true(data.includes('<interface name="org.nsmount.NsMount1.Manager">'));
  t.true(data.includes('org.freedesktop.DBus.Properties'));
  t.regex(intro.forPath('/org')!, /<node name="nsmount"\/>/);
  t.is(intro.forPath('/elsewhere'), undefined);
});
