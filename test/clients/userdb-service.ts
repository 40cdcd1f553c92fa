// A systemd userdb service (varlink on /run/systemd/userdb/NAME) that knows
// one user and one group and, like sssd or LDAP with enumeration off,
// refuses to list them. nss-systemd asks it for getpwuid/getgrgid; getpwent
// gets nothing from it. Prints "ready" once listening.
//   node userdb-service.js SOCKET ID
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const [socketPath, idText] = process.argv.slice(2);
const id = Number(idText);
const service = path.basename(socketPath);
const NAME = 'nsmtest-ldap';

type Reply = { parameters: Record<string, unknown> } | { error: string };

function answer(method: string, p: Record<string, unknown>): Reply {
  const user = method === 'io.systemd.UserDatabase.GetUserRecord';
  const group = method === 'io.systemd.UserDatabase.GetGroupRecord';
  if (!user && !group) return { error: 'io.systemd.UserDatabase.NoRecordFound' };
  const byId = user ? p.uid : p.gid;
  const byName = user ? p.userName : p.groupName;
  if (byId === undefined && byName === undefined) return { error: 'io.systemd.UserDatabase.EnumerationNotSupported' };
  if (byId !== id && byName !== NAME) return { error: 'io.systemd.UserDatabase.NoRecordFound' };
  const record = user ? { userName: NAME, uid: id, gid: id, service } : { groupName: NAME, gid: id, service };
  return { parameters: { record } };
}

fs.rmSync(socketPath, { force: true });
const server = net.createServer((connection) => {
  let buffered = Buffer.alloc(0);
  connection.on('error', () => {});
  connection.on('data', (data) => {
    buffered = Buffer.concat([buffered, data]);
    for (let end = buffered.indexOf(0); end >= 0; end = buffered.indexOf(0)) {
      const message = JSON.parse(buffered.subarray(0, end).toString('utf8')) as { method: string; parameters?: Record<string, unknown> };
      buffered = buffered.subarray(end + 1);
      connection.write(`${JSON.stringify(answer(message.method, message.parameters ?? {}))}\0`);
    }
  });
});
server.listen(socketPath, () => {
  fs.chmodSync(socketPath, 0o666);
  process.stdout.write('ready\n');
});
process.on('SIGTERM', () => process.exit(0));
