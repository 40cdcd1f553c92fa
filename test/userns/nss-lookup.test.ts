// Users NSS knows but does not list, as with sssd or LDAP with enumeration
// off: real nss-systemd asking a userdb service that refuses to enumerate
// (test/clients/userdb-service.ts), in a mount namespace of the test's own
// so nothing else sees it. The pool's first block starts at that user's id.
import test from 'ava';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { rootTest } from '../helpers/root';

const ID = 0x72000000;
const SERVICE = path.resolve(__dirname, '../clients/userdb-service.js');
const CHILD = path.join(__dirname, 'nss-lookup-child.js');

// /run and nsswitch.conf are replaced in this namespace only.
const SCRIPT = `set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/userdb /run/nss-test
printf 'passwd: files systemd\\ngroup: files systemd\\n' > /run/nss-test/nsswitch.conf
mount --bind /run/nss-test/nsswitch.conf /etc/nsswitch.conf
"$NODE" "$SERVICE" /run/systemd/userdb/org.nsmount.test "$ID" > /run/nss-test/ready &
trap 'kill $!' EXIT
while ! grep -q ready /run/nss-test/ready; do sleep 0.05; done
getent passwd "$ID" >&2
"$NODE" "$CHILD" "$ID"`;

rootTest('a block whose first id NSS knows but does not list is not handed out', async (t) => {
  const { stdout, stderr } = await promisify(execFile)('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', SCRIPT], {
    env: { ...process.env, NODE: process.execPath, SERVICE, CHILD, ID: String(ID) },
    timeout: 30_000,
  });
  t.regex(stderr, /^nsmtest-ldap:x:1912602624:/m, 'getent finds the user through the userdb service');
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  t.deepEqual(result, { enumerated: false, uidKnown: true, gidKnown: true, base: ID + 65536 });
});
