// What the fuzzer knows of the daemon, read from the contract file itself so
// a new method, option key or error name is fuzzed and accepted without
// anyone editing the fuzzer.
import fs from 'node:fs';
import path from 'node:path';

export const SERVICE = 'org.nsmount.NsMount1';
export const OBJECT_PATH = '/org/nsmount/NsMount1';
export const MANAGER = 'org.nsmount.NsMount1.Manager';
export const PROPERTIES = 'org.freedesktop.DBus.Properties';
export const INTROSPECTABLE = 'org.freedesktop.DBus.Introspectable';
export const PEER = 'org.freedesktop.DBus.Peer';

export interface ContractArg {
  name: string;
  type: string;
}

export interface ContractMethod {
  name: string;
  in: ContractArg[];
  out: ContractArg[];
  /** a{sv} keys documented for this method, with their variant type. */
  options: Record<string, string>;
}

export interface Contract {
  methods: ContractMethod[];
  properties: Record<string, string>;
  /** Every org.nsmount.NsMount1.Error.* the contract documents. */
  errors: string[];
}

// From dist/test/fuzz/ or test/fuzz/ alike: the first ancestor holding dbus/.
function contractPath(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'dbus', 'org.nsmount.NsMount1.Manager.xml');
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`no dbus/org.nsmount.NsMount1.Manager.xml above ${__dirname}`);
}

export function loadContract(file = contractPath()): Contract {
  const xml = fs.readFileSync(file, 'utf8');
  const methods: ContractMethod[] = [];
  // Each method's documentation comment names it first ("  Name:") and
  // lists its option keys as "Key" (type).
  const methodRe = /<method name="(\w+)">([\s\S]*?)<\/method>/g;
  for (const m of xml.matchAll(methodRe)) {
    const args = [...m[2].matchAll(/<arg name="(\w+)" type="([^"]+)" direction="(in|out)"\/>/g)];
    const docStart = xml.lastIndexOf(`${m[1]}:`, m.index);
    const doc = docStart >= 0 ? xml.slice(docStart, m.index) : '';
    const options: Record<string, string> = {};
    for (const o of doc.matchAll(/"([A-Z]\w*)" \(([ybnqiuxtdsoghva{}()]+)\)/g)) options[o[1]] = o[2];
    methods.push({
      name: m[1],
      in: args.filter((a) => a[3] === 'in').map((a) => ({ name: a[1], type: a[2] })),
      out: args.filter((a) => a[3] === 'out').map((a) => ({ name: a[1], type: a[2] })),
      options,
    });
  }
  const properties: Record<string, string> = {};
  for (const p of xml.matchAll(/<property name="(\w+)" type="([^"]+)"/g)) properties[p[1]] = p[2];
  const errors = [...new Set([...xml.matchAll(/org\.nsmount\.NsMount1\.Error\.(\w+)/g)].map((e) => e[0]))];
  if (methods.length === 0 || errors.length === 0) throw new Error(`${file} lists no methods or no errors`);
  return { methods, properties, errors };
}

export const signatureOf = (args: ContractArg[]) => args.map((a) => a.type).join('');

/**
 * The out signature a success must have, for a call the daemon should
 * answer with success at all; undefined where any success is wrong.
 */
export function expectedReplySignature(
  contract: Contract,
  call: { interface?: string; path: string; member: string; signature: string },
): string | undefined {
  const iface = call.interface;
  if (iface === PEER) {
    if (call.member === 'Ping' && call.signature === '') return '';
    if (call.member === 'GetMachineId' && call.signature === '') return 's';
    return undefined;
  }
  if (iface === INTROSPECTABLE || (iface === undefined && call.member === 'Introspect')) {
    return call.member === 'Introspect' && call.signature === '' ? 's' : undefined;
  }
  if (call.path !== OBJECT_PATH) return undefined;
  if (iface === PROPERTIES) {
    if (call.member === 'Get' && call.signature === 'ss') return 'v';
    if (call.member === 'GetAll' && call.signature === 's') return 'a{sv}';
    return undefined; // Set: every property is read-only.
  }
  if (iface !== undefined && iface !== MANAGER) return undefined;
  const method = contract.methods.find((m) => m.name === call.member);
  if (!method || signatureOf(method.in) !== call.signature) return undefined;
  return signatureOf(method.out);
}
