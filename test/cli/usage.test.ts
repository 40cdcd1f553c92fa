// Bad usage and unreachable daemons: every case exits non-zero with one
// clear line on stderr and never a stack trace.
import test from 'ava';
import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { alice } from '../helpers/users';
import { nsmountctl, isOneLineError } from '../helpers/nsmountctl';
import { COMMANDS } from '../../src/cli/main';

// A bus and polkitd, but no nsmountd.
const stack = useTestStack({ daemon: false });

const fails = test.macro<[string[], number, RegExp]>({
  async exec(t, args, code, message) {
    const result = await nsmountctl(alice, stack.address, args);
    t.is(result.code, code, result.stderr);
    t.is(result.stdout, '');
    t.true(isOneLineError(result.stderr), result.stderr);
    t.regex(result.stderr, message);
  },
  title: (_p, args: string[], code: number) => `nsmountctl ${args.join(' ') || '(nothing)'} exits ${code} with one line`,
});

const CASES: Array<[string[], number, RegExp]> = [
  [[], 2, /no command given/],
  [['frobnicate'], 2, /unknown command "frobnicate"/],
  [['status', '--bogus'], 2, /^nsmountctl status: Unknown option '--bogus' \(see nsmountctl status --help\)$/m],
  [['status', 'extra'], 2, /unexpected argument "extra"/],
  [['mkdir'], 2, /missing PARENT\/NAME/],
  [['mkdir', '--mode', 'rwx', '/tmp/x'], 2, /--mode must be an octal mode/],
  [['import-tar', 'only-one.tar'], 2, /missing DIR/],
  [['run', '--', 'true'], 2, /give exactly one of --rootfs DIR and --image IMG/],
  [['run', '--rootfs', '/', '--bind', 'nocolon', '--', 'true'], 2, /--bind takes SRC:DST/],
  [['idmap', '/tmp'], 2, /--attach TARGET is required/],
  [['idmap', '/tmp', '--attach', '/tmp', '--mode', 'sideways'], 2, /--mode must be one of/],
  [['idmap', '/tmp', '--attach', '/tmp', '--mode', 'foreign'], 2, /--mode foreign maps ids for a user namespace: add --userns NAME/],
  [['mount', 'x.img', '--read-write', '--read-only'], 2, /give at most one of --read-write and --read-only/],
  [['mkdir', '/nonexistent-parent/dir'], 1, /cannot create \/nonexistent-parent: permission denied on \/nonexistent-parent$/m],
  [['import-tar', '/nonexistent.tar', '/tmp/x'], 1, /\/nonexistent\.tar does not exist/],
  [['unmount', '/nonexistent-target'], 1, /\/nonexistent-target does not exist/],
  [['run', '--rootfs', '/nonexistent-rootfs'], 1, /\/nonexistent-rootfs does not exist/],
  [['status'], 1, /nsmountd is not running on the bus at unix:.*: start it/],
];
for (const [args, code, message] of CASES) rootTest(fails, args, code, message);

rootTest('no bus at all is one line that names the address', async (t) => {
  const result = await nsmountctl(alice, 'unix:path=/nonexistent/bus', ['status']);
  t.is(result.code, 1);
  t.true(isOneLineError(result.stderr), result.stderr);
  t.regex(result.stderr, /cannot connect to the D-Bus system bus at unix:path=\/nonexistent\/bus \(no such file or directory\)/);
});

const helps = test.macro<[string]>({
  async exec(t, name) {
    const result = await nsmountctl(alice, undefined, [name, '--help']);
    t.is(result.code, 0, result.stderr);
    t.true(result.stdout.startsWith(`Usage: nsmountctl ${name}`), result.stdout);
  },
  title: (_p, name: string) => `nsmountctl ${name} --help prints its usage`,
});
for (const command of COMMANDS) rootTest(helps, command.name);

rootTest('nsmountctl --help lists every command', async (t) => {
  const result = await nsmountctl(alice, undefined, ['--help']);
  t.is(result.code, 0);
  for (const command of COMMANDS) t.regex(result.stdout, new RegExp(`^  ${command.name} +\\S`, 'm'));
});
