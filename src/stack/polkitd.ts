// polkitd for one stack, isolated from the host's polkit configuration.
//
// polkitd reads actions and rules from fixed paths, so it runs in a mount
// namespace of its own with those paths bind-mounted over: the actions dir
// by a copy of the system's actions plus ours, /etc/polkit-1/rules.d by
// this stack's rulesDir and /usr/share/polkit-1/rules.d by an empty dir.
// Several stacks can then run side by side with different rules.
//
// The daemon's embedded mode is polkit on a machine without a system bus,
// not a test: there polkitd reads the host's rules from both rules dirs as
// an installed polkitd would (hostRules), and only the actions dir is ours.
//
// Knowing when new rules are in force: polkitd reloads on inotify events,
// possibly several times per change, so its log is ambiguous. Instead every
// rules file we write starts with a probe rule carrying a generation number,
// and setRules() asks polkitd about a probe action until it answers with the
// new generation. Root subjects bypass rules, so the probe's subject is
// polkitd's own process (it runs as user polkitd).
import fs from 'node:fs';
import path from 'node:path';
import dbus from 'dbus-next';
import { spawnManaged, type ManagedChild } from './child';
import { connectBus, safeDisconnect, waitForName } from './bus-connection';

export interface PolkitdOptions {
  busAddress: string;
  runtimeDir: string;
  /** .policy files added to the system's actions. */
  actionFiles: string[];
  /** Defaults to a fresh dir under runtimeDir. */
  rulesDir?: string;
  /** Initial rules (JavaScript); none when absent. */
  rules?: string;
  /** Read the host's /etc/polkit-1/rules.d and /usr/share/polkit-1/rules.d instead of this stack's rules (no rules, rulesDir or setRules then). */
  hostRules?: boolean;
  startTimeoutMs?: number;
  /** Receives every line polkitd prints. */
  onLog?: (line: string) => void;
}

export interface Polkitd {
  pid: number;
  rulesDir: string;
  /** Recent polkitd output. */
  logs: string[];
  /** Replaces this stack's rules and resolves once polkitd applies them; rejects if they fail to compile. */
  setRules(js: string): Promise<void>;
  stop(): Promise<void>;
}

export const POLKIT_NAME = 'org.freedesktop.PolicyKit1';
const POLKITD = '/usr/lib/polkit-1/polkitd';
const SYSTEM_ACTIONS = '/usr/share/polkit-1/actions';
const PROBE_ACTION = 'org.nsmount.stack.probe';
// The generation is in the file name too, so that a compile error polkitd
// reports late (it reloads on every inotify event) names the rules it is
// about and cannot be taken for the next generation's.
const rulesFile = (generation: number) => `50-nsmount-stack-g${generation}.rules`;

const PROBE_POLICY = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE policyconfig PUBLIC "-//freedesktop//DTD PolicyKit Policy Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/PolicyKit/1/policyconfig.dtd">
<policyconfig>
  <action id="${PROBE_ACTION}">
    <description>Test stack probe: tells which rules generation polkitd runs</description>
    <message>Never granted outside the test stack</message>
    <defaults><allow_any>no</allow_any><allow_inactive>no</allow_inactive><allow_active>no</allow_active></defaults>
  </action>
</policyconfig>
`;

function rulesText(generation: number, js: string): string {
  return `// Written by nsmountd's test stack; generation ${generation}.
polkit.addRule(function (action, subject) {
  if (action.id == "${PROBE_ACTION}")
    return action.lookup("generation") == "${generation}" ? polkit.Result.YES : polkit.Result.NO;
});
${js}
`;
}

function mkdir755(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
}

export async function startPolkitd(opts: PolkitdOptions): Promise<Polkitd> {
  if (opts.hostRules && (opts.rules !== undefined || opts.rulesDir !== undefined)) {
    throw new Error('hostRules reads the host rules dirs; it takes no rules or rulesDir of its own');
  }
  const base = path.join(opts.runtimeDir, 'polkit');
  const actionsDir = path.join(base, 'actions');
  const emptyDir = path.join(base, 'empty');
  // Rules are staged next to rulesDir and renamed in, so polkitd never reads half a file.
  const stagingDir = path.join(base, 'staging');
  const rulesDir = opts.rulesDir ?? path.join(base, 'rules.d');
  fs.chmodSync(opts.runtimeDir, 0o755);
  for (const dir of [base, actionsDir, emptyDir, stagingDir, rulesDir]) mkdir755(dir);
  for (const name of fs.readdirSync(SYSTEM_ACTIONS)) {
    fs.copyFileSync(path.join(SYSTEM_ACTIONS, name), path.join(actionsDir, name));
  }
  for (const file of opts.actionFiles) fs.copyFileSync(file, path.join(actionsDir, path.basename(file)));
  fs.writeFileSync(path.join(actionsDir, `${PROBE_ACTION}.policy`), PROBE_POLICY);
  for (const name of fs.readdirSync(actionsDir)) fs.chmodSync(path.join(actionsDir, name), 0o644);

  let generation = 0;
  const writeRules = (js: string) => {
    generation++;
    // Only one generation's file may be in force at a time.
    for (const old of fs.readdirSync(rulesDir)) if (/^50-nsmount-stack-g\d+\.rules$/.test(old)) fs.rmSync(path.join(rulesDir, old));
    const staged = path.join(stagingDir, rulesFile(generation));
    fs.writeFileSync(staged, rulesText(generation, js), { mode: 0o644 });
    fs.chmodSync(staged, 0o644);
    fs.renameSync(staged, path.join(rulesDir, rulesFile(generation)));
    return generation;
  };
  if (!opts.hostRules) writeRules(opts.rules ?? '');

  const script = [
    'mount --bind "$1" /usr/share/polkit-1/actions',
    ...(opts.hostRules ? [] : ['mount --bind "$2" /etc/polkit-1/rules.d', 'mount --bind "$3" /usr/share/polkit-1/rules.d']),
    'exec "$4"',
  ].join(' && ');
  const child = spawnManaged(
    'unshare',
    ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'sh', actionsDir, rulesDir, emptyDir, POLKITD],
    { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: opts.busAddress }, onLine: opts.onLog },
  );

  let bus: dbus.MessageBus | undefined;
  try {
    bus = await connectBus(opts.busAddress);
    await waitForName(bus, POLKIT_NAME, {
      timeoutMs: opts.startTimeoutMs ?? 10000,
      abort: () => (child.running() ? undefined : new Error(`polkitd exited:\n${child.lines.join('\n')}`)),
    });
    // polkitd loads the rules it finds before it takes its name; only our own generations need the probe.
    if (!opts.hostRules) await waitForGeneration(bus, child, generation, 5000);
  } catch (err) {
    if (bus) safeDisconnect(bus);
    await child.stop({ signal: 'SIGKILL' });
    throw err;
  }
  const connection = bus;
  connection.on('error', () => {});

  return {
    pid: child.pid,
    rulesDir,
    logs: child.lines,
    async setRules(js: string) {
      if (opts.hostRules) throw new Error('this polkitd reads the host rules; change them in /etc/polkit-1/rules.d');
      const from = child.lineCount();
      const gen = writeRules(js);
      // A syntax error makes polkitd skip the whole file, probe included:
      // report its message rather than waiting for a timeout.
      const compileError = child.waitForLine((l) => /Error (compiling|executing) script/.test(l) && l.includes(rulesFile(gen)), {
        fromLine: from,
      });
      compileError.catch(() => {});
      await Promise.race([
        waitForGeneration(connection, child, gen, 10000),
        compileError.then((line) => {
          throw new Error(`polkitd rejected the rules: ${line}`);
        }),
      ]);
    },
    async stop() {
      safeDisconnect(connection);
      await child.stop();
    },
  };
}

async function probe(bus: dbus.MessageBus, subjectPid: number, generation: number): Promise<boolean> {
  const reply = await bus.call(
    new dbus.Message({
      destination: POLKIT_NAME,
      path: '/org/freedesktop/PolicyKit1/Authority',
      interface: 'org.freedesktop.PolicyKit1.Authority',
      member: 'CheckAuthorization',
      signature: '(sa{sv})sa{ss}us',
      body: [
        ['unix-process', { pid: new dbus.Variant('u', subjectPid), 'start-time': new dbus.Variant('t', 0n) }],
        PROBE_ACTION,
        { generation: String(generation) },
        0,
        '',
      ],
    }),
  );
  const [result] = (reply?.body ?? []) as [[boolean, boolean, Record<string, string>]];
  return result?.[0] === true;
}

async function waitForGeneration(bus: dbus.MessageBus, child: ManagedChild, generation: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    if (!child.running()) throw new Error(`polkitd exited:\n${child.lines.join('\n')}`);
    if (await probe(bus, child.pid, generation)) return;
    if (Date.now() > deadline) {
      throw new Error(`polkitd did not load rules generation ${generation} within ${timeoutMs} ms:\n${child.lines.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}
