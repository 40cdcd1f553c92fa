// The contract lives in dbus/org.nsmount.NsMount1.Manager.xml; the daemon
// serves that file verbatim inside its introspection data, and tests parse
// it to check that it agrees with the registered methods.
import fs from 'node:fs';
import path from 'node:path';
import { BUS_NAME, OBJECT_PATH, MANAGER_INTERFACE } from './names';

export { BUS_NAME, OBJECT_PATH, MANAGER_INTERFACE };

export function contractPath(): string {
  for (const candidate of [
    path.resolve(__dirname, '../../../dbus/org.nsmount.NsMount1.Manager.xml'),
    path.resolve(__dirname, '../../dbus/org.nsmount.NsMount1.Manager.xml'),
    '/usr/share/dbus-1/interfaces/org.nsmount.NsMount1.Manager.xml',
  ]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('dbus/org.nsmount.NsMount1.Manager.xml not found');
}

const STANDARD_INTERFACES = `  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect">
      <arg name="xml_data" type="s" direction="out"/>
    </method>
  </interface>
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId">
      <arg name="machine_uuid" type="s" direction="out"/>
    </method>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="out"/>
    </method>
    <method name="GetAll">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="properties" type="a{sv}" direction="out"/>
    </method>
    <method name="Set">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="in"/>
    </method>
    <signal name="PropertiesChanged">
      <arg name="interface_name" type="s"/>
      <arg name="changed_properties" type="a{sv}"/>
      <arg name="invalidated_properties" type="as"/>
    </signal>
  </interface>
`;

const DOCTYPE =
  '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n' +
  ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n';

/** The <interface> element of the Manager, comments included, cut from the contract file. */
function managerInterfaceXml(xml: string): string {
  const start = xml.search(/<interface\s+name="org\.nsmount\.NsMount1\.Manager"/);
  const end = xml.indexOf('</interface>', start);
  if (start < 0 || end < 0) throw new Error('the contract has no org.nsmount.NsMount1.Manager interface');
  // Keep the doc comment block that precedes the interface element.
  const before = xml.slice(0, start);
  const commentStart = before.lastIndexOf('<!--');
  const lead = commentStart >= 0 && before.slice(before.indexOf('-->', commentStart) + 3).trim() === '' ? commentStart : start;
  return xml.slice(lead, end + '</interface>'.length);
}

export class Introspection {
  private readonly objectXml: string;
  private readonly inArgs: Map<string, string[]>;

  constructor(contractXml: string) {
    this.objectXml = `${DOCTYPE}<node>\n${STANDARD_INTERFACES}  ${managerInterfaceXml(contractXml)}\n</node>\n`;
    this.inArgs = new Map(readContract(contractXml).methods.map((m) => [m.name, m.args.filter((a) => a.direction === 'in').map((a) => a.name)]));
  }

  /** The contract's name for a Manager method's input argument, for error messages. */
  inArgName(member: string, index: number): string | undefined {
    return this.inArgs.get(member)?.[index];
  }

  static fromContractFile(file = contractPath()): Introspection {
    return new Introspection(fs.readFileSync(file, 'utf8'));
  }

  /** Introspection data for `objectPath`, or undefined when no such object exists. */
  forPath(objectPath: string): string | undefined {
    if (objectPath === OBJECT_PATH) return this.objectXml;
    const parents = ['/', '/org', '/org/nsmount'];
    if (!parents.includes(objectPath)) return undefined;
    const prefix = objectPath === '/' ? '/' : `${objectPath}/`;
    const child = OBJECT_PATH.slice(prefix.length).split('/')[0];
    return `${DOCTYPE}<node>\n${STANDARD_INTERFACES}  <node name="${child}"/>\n</node>\n`;
  }
}

export interface ContractMethod {
  name: string;
  inSignature: string;
  outSignature: string;
  args: Array<{ name: string; type: string; direction: 'in' | 'out' }>;
}

export interface ContractProperty {
  name: string;
  type: string;
  access: string;
}

/** A small reader for our own contract file: methods with args, properties, and the full names of the errors it documents. */
export function readContract(xml: string): { methods: ContractMethod[]; properties: ContractProperty[]; errors: string[] } {
  const iface = managerInterfaceXml(xml).replace(/<!--[\s\S]*?-->/g, '');
  const methods: ContractMethod[] = [];
  for (const m of iface.matchAll(/<method\s+name="([^"]+)"\s*(?:\/>|>([\s\S]*?)<\/method>)/g)) {
    const args = [...(m[2] ?? '').matchAll(/<arg\s+([^>]*?)\/?>/g)].map((a) => {
      const attr = (n: string) => new RegExp(`${n}="([^"]*)"`).exec(a[1])?.[1] ?? '';
      return { name: attr('name'), type: attr('type'), direction: (attr('direction') || 'in') as 'in' | 'out' };
    });
    methods.push({
      name: m[1],
      args,
      inSignature: args.filter((a) => a.direction === 'in').map((a) => a.type).join(''),
      outSignature: args.filter((a) => a.direction === 'out').map((a) => a.type).join(''),
    });
  }
  const properties = [...iface.matchAll(/<property\s+([^>]*?)\/?>/g)].map((p) => {
    const attr = (n: string) => new RegExp(`${n}="([^"]*)"`).exec(p[1])?.[1] ?? '';
    return { name: attr('name'), type: attr('type'), access: attr('access') };
  });
  // Error names are documented in the contract's comments: nsmountd's own and the standard ones it sends.
  const errors = [...new Set([...xml.matchAll(/\borg\.(?:nsmount\.NsMount1|freedesktop\.DBus)\.Error\.[A-Za-z]+/g)].map((e) => e[0]))];
  return { methods, properties, errors };
}
