// The private bus config is derived from the distribution's system.conf so
// that tests run under the same default policy as a real system bus; only
// where it listens and which files it pulls in are changed.
import fs from 'node:fs';

export const SYSTEM_CONF = '/usr/share/dbus-1/system.conf';
export const POLKIT_BUS_POLICY = '/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf';

export interface BusConfigOptions {
  socketPath: string;
  includeDir: string;
  serviceDirs: string[];
  /** Keep system.conf's <servicehelper>; only useful when the helper can see this config (see private-bus.ts). */
  serviceHelper: boolean;
  /** system.conf text; read from SYSTEM_CONF when absent. */
  template?: string;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function privateBusConfig(opts: BusConfigOptions): string {
  let conf = opts.template ?? fs.readFileSync(SYSTEM_CONF, 'utf8');
  const replaceAll = (re: RegExp, by: string, what: string) => {
    if (!re.test(conf)) throw new Error(`${SYSTEM_CONF} has no ${what}; cannot derive a private bus config`);
    conf = conf.replace(new RegExp(re.source, 'g'), by);
  };
  replaceAll(/<listen>[^<]*<\/listen>/, `<listen>unix:path=${xmlEscape(opts.socketPath)}</listen>`, '<listen>');
  // --nofork/--nopidfile override these, but a stray pid file in /run would
  // clash with a real system bus; and stderr is where we collect logs.
  conf = conf.replace(/<fork\/>/g, '').replace(/<pidfile>[^<]*<\/pidfile>/g, '').replace(/<syslog\/>/g, '');
  // Host additions (/etc/dbus-1/...) must not leak into a test bus.
  conf = conf.replace(/<include ignore_missing="yes">[^<]*<\/include>/g, '');
  conf = conf.replace(/<includedir>[^<]*<\/includedir>/g, '');
  conf = conf.replace(/<standard_system_servicedirs\/>/g, '').replace(/<servicedir>[^<]*<\/servicedir>/g, '');
  if (!opts.serviceHelper) conf = conf.replace(/<servicehelper>[^<]*<\/servicehelper>/g, '');
  const added = [
    `<includedir>${xmlEscape(opts.includeDir)}</includedir>`,
    ...opts.serviceDirs.map((d) => `<servicedir>${xmlEscape(d)}</servicedir>`),
  ].join('\n  ');
  replaceAll(/<\/busconfig>/, `  ${added}\n</busconfig>`, '</busconfig>');
  return conf;
}
