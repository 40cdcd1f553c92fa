// polkit/org.nsmount.policy as polkitd 122 reads it: every action with its
// defaults and implications (through pkaction, which asks polkitd over the
// bus), what those defaults decide for an ordinary user, and the example
// rule for untrusted images.
import test from 'ava';
import { rootSkipReason, rootTest } from '../helpers/root';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { MessageBus } from 'dbus-next';
import { startPrivateSystemBus, PrivateBus } from '../../src/stack/private-bus';
import { startPolkitd, Polkitd } from '../../src/stack/polkitd';
import { connectBus, safeDisconnect } from '../../src/stack/bus-connection';
import { checkAuthorization, idleProcessAs } from '../helpers/polkit';
import { alice, carol, ADMINS_GROUP, TestUser } from '../helpers/users';
import { ACTIONS, type ActionId } from '../../src/polkit/actions';

const REPO = resolve(__dirname, '../../..');
const POLICY = join(REPO, 'polkit/org.nsmount.policy');
const EXAMPLE_RULES = join(REPO, 'polkit/50-nsmountd-untrusted-images.rules.example');

let dir: string;
let bus: PrivateBus;
let polkitd: Polkitd;
let client: MessageBus;

test.before(async () => {
  if (rootSkipReason) return;
  dir = mkdtempSync(join(tmpdir(), 'nsmountd-polkit-policy-'));
  bus = await startPrivateSystemBus({ runtimeDir: dir, policyFiles: [] });
  // The example rule as shipped, pointed at a group the test users have.
  const rules = readFileSync(EXAMPLE_RULES, 'utf8');
  if (!rules.includes('"nsmount-images"')) throw new Error('example rule no longer names "nsmount-images"');
  polkitd = await startPolkitd({
    busAddress: bus.address,
    runtimeDir: dir,
    actionFiles: [POLICY],
    rules: rules.replaceAll('"nsmount-images"', JSON.stringify(ADMINS_GROUP.name)),
  });
  client = await connectBus(bus.address);
});

test.after.always(async () => {
  if (client) safeDisconnect(client);
  await polkitd?.stop();
  await bus?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function pkaction(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('pkaction', args, {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address },
  });
  return stdout;
}

/** pkaction --verbose "  key:   value" lines as a map (annotations keyed by their name). */
function fields(verbose: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of verbose.split('\n')) {
    const m = /^\s+([a-z_ ]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const annotation = /^(\S+) -> (.*)$/.exec(m[2]);
    if (m[1] === 'annotation' && annotation) out.set(annotation[1], annotation[2]);
    else out.set(m[1], m[2]);
  }
  return out;
}

interface Expected {
  any: string;
  inactive: string;
  active: string;
  implies?: string;
}

const EXPECTED: Record<ActionId, Expected> = {
  'org.nsmount.allocate-user-namespace': { any: 'yes', inactive: 'yes', active: 'yes' },
  'org.nsmount.make-directory': { any: 'yes', inactive: 'yes', active: 'yes' },
  'org.nsmount.idmap-directory': { any: 'yes', inactive: 'yes', active: 'yes' },
  'org.nsmount.idmap-directory-untrusted': {
    any: 'auth_admin', inactive: 'auth_admin', active: 'auth_admin', implies: 'org.nsmount.idmap-directory',
  },
  'org.nsmount.unmount-others': { any: 'auth_admin', inactive: 'auth_admin', active: 'auth_admin' },
  'org.nsmount.mount-image': { any: 'yes', inactive: 'yes', active: 'yes' },
  'org.nsmount.mount-image-untrusted': {
    any: 'auth_admin', inactive: 'auth_admin', active: 'auth_admin_keep', implies: 'org.nsmount.mount-image',
  },
};

rootTest('polkitd knows exactly the nsmountd actions of src/polkit/actions.ts', async (t) => {
  const ids = (await pkaction())
    .split('\n')
    .filter((id) => id.startsWith('org.nsmount.') && !id.startsWith('org.nsmount.stack.'));
  t.deepEqual(ids.sort(), Object.values(ACTIONS).sort());
});

const loaded = test.macro({
  async exec(t, id: string, e: Expected) {
    const f = fields(await pkaction('--action-id', id, '--verbose'));
    t.is(f.get('vendor'), 'nsmountd');
    t.is(f.get('icon'), 'drive-harddisk');
    t.regex(f.get('description') ?? '', /^[A-Z].{10,}[^.]$/);
    t.regex(f.get('message') ?? '', /^Authentication is required to .{10,}/);
    t.is(f.get('implicit any'), e.any);
    t.is(f.get('implicit inactive'), e.inactive);
    t.is(f.get('implicit active'), e.active);
    t.is(f.get('org.freedesktop.policykit.imply'), e.implies);
  },
  title: (_p, id: string) => `${id} is loaded with its defaults`,
});

for (const [id, expected] of Object.entries(EXPECTED)) rootTest(loaded, id, expected);

const decides = test.macro({
  async exec(t, user: TestUser, id: string, expected: 'yes' | 'challenge') {
    const subject = await idleProcessAs(user);
    try {
      const r = await checkAuthorization(client, subject.pid, id);
      t.deepEqual([r.isAuthorized, r.isChallenge], expected === 'yes' ? [true, false] : [false, true]);
    } finally {
      subject.kill('SIGKILL');
    }
  },
  title: (_p, user: TestUser, id: string, expected: string) => `${id} for ${user.name}: ${expected}`,
});

// Without a logind session every subject is "any": allow_any decides.
for (const [id, e] of Object.entries(EXPECTED)) rootTest.serial(decides, alice, id, e.any === 'yes' ? 'yes' : 'challenge');
// The example rule grants untrusted images to its group, and nothing else.
rootTest.serial(decides, carol, 'org.nsmount.mount-image-untrusted', 'yes');
rootTest.serial(decides, carol, 'org.nsmount.idmap-directory-untrusted', 'challenge');
rootTest.serial(decides, carol, 'org.nsmount.unmount-others', 'challenge');
