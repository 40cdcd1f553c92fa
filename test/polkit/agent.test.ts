// The interactive flow through a real polkit agent: pkttyagent on a pseudo
// terminal, registered for the calling process, authenticating an
// administrator with a real PAM conversation (polkit-agent-helper-1 and
// pam_unix against a shadow file of this test's own). Each way it can end
// reaches the app under its own error name.
//
// polkit-agent-helper-1 is setuid and clears its environment, so it finds
// polkitd only at the default system bus path: this test gives each agent
// a mount namespace of its own in which /run/dbus/system_bus_socket leads
// to the stack's bus and /etc/shadow is the test's file.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { rootSkipReason, rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { runAsUser } from '../helpers/as-user';
import { callAs, type CallResult } from '../helpers/call';
import { CALL_CLIENT, PACKAGE_ROOT } from '../helpers/paths';
import { alice, carol } from '../helpers/users';
import { makeExt4, tempDir } from '../helpers/images';

const ERR = 'org.nsmount.NsMount1.Error.';
const PASSWORD = 'correct horse battery';
// crypt(3) SHA-512 of PASSWORD, so the test needs no hashing tool.
const PASSWORD_HASH = '$6$nsmtestagentsalt$EaUbdS9x6IvZaqES6Bs0iHUPG3yMLC3c0eybJ0iTCFESnFlEE2wgxHRfr55InWKqZzsiDYZ6SsrDsQqvNdjj60';
const AGENT_DRIVER = path.join(PACKAGE_ROOT, 'test/clients/tty-agent.py');
const DISMISSING_AGENT = path.join(PACKAGE_ROOT, 'dist/test/clients/dismissing-agent.js');
const ALLOCATE = ['AllocateUserNamespace', 'sua{sv}'] as const;

let shadow: string;
/** Alice's: the agent driver runs as her. */
let transcripts: string;
/** A configured image directory: its images are dissected before polkit is asked, so the dialog can show a label. */
let images: string;
let runs = 0;

test.before(async () => {
  if (rootSkipReason) return;
  images = tempDir('nsmountd-agent-images-');
  fs.chmodSync(images, 0o755);
});
const stack = useTestStack(() => ({
  config: `[images]\ndirectories = [${JSON.stringify(images)}]\n`,
  rules: `polkit.addAdminRule(function (action, subject) { return ["unix-user:${carol.name}"]; });
polkit.addRule(function (action, subject) {
if (action.id == "org.nsmount.allocate-user-namespace" && subject.user == "${alice.name}") return polkit.Result.AUTH_ADMIN;
});`,
}));
test.before(async () => {
  if (rootSkipReason) return;
  shadow = path.join(stack.baseDir, 'shadow');
  fs.writeFileSync(shadow, `${carol.name}:${PASSWORD_HASH}:19000:0:99999:7:::\n`, { mode: 0o600 });
  transcripts = path.join(stack.baseDir, 'agent');
  fs.mkdirSync(transcripts, { mode: 0o700 });
  fs.chownSync(transcripts, alice.uid, alice.gid);
});
test.after.always(async () => {
  if (images) fs.rmSync(images, { recursive: true, force: true });
});

interface AgentRun {
  result: CallResult;
  /** What the agent showed on its terminal. */
  transcript: string;
}

/** Alice calls with the interactive flag while pkttyagent answers for her as told. */
async function callThroughAgent(answer: string, name: string, call: { member: string; signature: string; body: unknown[] } = {
  member: ALLOCATE[0], signature: ALLOCATE[1], body: [name, 0, {}],
}): Promise<AgentRun> {
  const transcript = path.join(transcripts, `agent-${++runs}.txt`);
  const socket = stack.address.replace(/^unix:path=/, '').split(',')[0];
  const client = [process.execPath, CALL_CLIENT, '--address', stack.address, '--member', call.member, '--signature', call.signature,
    '--body', JSON.stringify(call.body), '--interactive'];
  const asAlice = ['setpriv', '--reuid', String(alice.uid), '--regid', String(alice.gid), '--clear-groups', '--'];
  const setup =
    'mount -t tmpfs -o mode=0755 nsmtest-agent /run/dbus && ln -s "$1" /run/dbus/system_bus_socket && ' +
    'mount --bind "$2" /etc/shadow && shift 2 && exec "$@"';
  const run = await runAsUser('root', [
    'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', setup, 'sh', socket, shadow,
    ...asAlice, '/usr/bin/python3', AGENT_DRIVER, answer, transcript, '--', ...client,
  ], { env: { DBUS_SYSTEM_BUS_ADDRESS: stack.address }, timeoutMs: 60000 });
  const text = fs.existsSync(transcript) ? fs.readFileSync(transcript, 'utf8') : '';
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return { result: JSON.parse(line) as CallResult, transcript: text };
  } catch {
    throw new Error(`no reply from the client (exit ${run.code}):\n${run.stdout}\n${run.stderr}\nagent:\n${text}`);
  }
}

rootTest.serial('the right administrator password authorizes the call', async (t) => {
  const { result, transcript } = await callThroughAgent(`password:${PASSWORD}`, 'agent-ok');
  t.true(result.ok, JSON.stringify(result) + transcript);
  t.regex(transcript, /AUTHENTICATING FOR org\.nsmount\.allocate-user-namespace/);
  t.regex(transcript, new RegExp(`Authenticating as: .*${carol.name}`));
});

rootTest.serial('a wrong password is NotAuthorized', async (t) => {
  const { result, transcript } = await callThroughAgent('password:not the password', 'agent-wrong');
  t.like(result, { ok: false, name: `${ERR}NotAuthorized` }, transcript);
  if (!result.ok) t.regex(result.message, /not allowed to get a user namespace/);
});

rootTest.serial('a dismissed dialog is NotAuthorizedDismissed', async (t) => {
  // pkttyagent cannot dismiss: Ctrl-C kills it and EOF aborts it, and polkitd reports
  // neither as dismissed. A desktop agent's Cancel button answers Cancelled, as this one does.
  const run = await runAsUser(alice, [process.execPath, DISMISSING_AGENT, '--address', stack.address,
    '--member', ALLOCATE[0], '--signature', ALLOCATE[1], '--body', JSON.stringify(['agent-dismissed', 0, {}])]);
  const result = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as CallResult & { asked: number };
  t.like(result, { ok: false, name: `${ERR}NotAuthorizedDismissed`, asked: 1 }, run.stderr);
  if (!result.ok) t.regex(result.message, /dialog was closed/);
});

rootTest.serial('pkttyagent killed at the prompt is a plain NotAuthorized', async (t) => {
  const { result, transcript } = await callThroughAgent('interrupt', 'agent-interrupted');
  t.like(result, { ok: false, name: `${ERR}NotAuthorized` }, transcript);
});

rootTest.serial('with no agent, an interactive call is NotAuthorizedCanObtain', async (t) => {
  const result = await callAs(alice, stack.address, ALLOCATE[0], ALLOCATE[1], ['agent-none', 0, {}], { interactive: true });
  t.like(result, { ok: false, name: `${ERR}NotAuthorizedCanObtain` });
  if (!result.ok) t.regex(result.message, /no authentication agent/);
});

rootTest.serial('without the interactive flag, polkit asks for interactive authorization', async (t) => {
  const result = await callAs(alice, stack.address, ALLOCATE[0], ALLOCATE[1], ['agent-flag', 0, {}]);
  t.like(result, { ok: false, name: 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired' });
});

rootTest.serial('the dialog names the image and its label, with control characters stripped', async (t) => {
  // A trusted image (an untrusted one is not read before polkit agreed, so
  // it has no label to show); MountOptions make it need the untrusted action.
  const image = makeExt4(images, 'holiday.ext4', { label: 'Holiday\x1b[31m' });
  const { result, transcript } = await callThroughAgent(`password:${PASSWORD}`, 'agent-mount', {
    member: 'Mount', signature: 'ha{sv}', body: [{ $fd: image, mode: 'r' }, { MountOptions: { $v: ['s', 'noatime'] } }],
  });
  t.true(result.ok, JSON.stringify(result) + transcript + stack.polkit.logs.slice(-30).join('\n') + stack.daemon.logs.slice(-5).join('\n'));
  t.true(transcript.includes(`Authentication is required to mount the disk image ${image} (labelled "Holiday[31m")`), transcript);
  t.false(/Holiday\x1b/.test(transcript));
});
