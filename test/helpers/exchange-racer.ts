// An attacker for MakeDirectory: as an unprivileged user it watches a
// directory it owns with inotify and, the moment the daemon creates an
// entry there, swaps it with a victim directory (renameat2
// RENAME_EXCHANGE), then swaps back so the next try finds the victim in
// place again.
import { spawn, type ChildProcess } from 'node:child_process';
import { PYTHON } from '../fuzz/fd-zoo';
import type { TestUser } from './users';

const RACER = String.raw`
import ctypes, os, signal, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
IN_CREATE = 0x100
RENAME_EXCHANGE = 2
directory, victim, prefix = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
inotify = libc.inotify_init1(0)
if inotify < 0 or libc.inotify_add_watch(inotify, directory.encode(), IN_CREATE) < 0:
    sys.exit('inotify: ' + os.strerror(ctypes.get_errno()))
dirfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
swaps = 0
def stop(*_):
    print(swaps, flush=True)
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
print('ready', flush=True)
while True:
    events = os.read(inotify, 65536)
    offset = 0
    while offset < len(events):
        _wd, _mask, _cookie, length = struct.unpack_from('iIII', events, offset)
        name = events[offset + 16 : offset + 16 + length].rstrip(b'\0')
        offset += 16 + length
        if not name.startswith(prefix):
            continue
        # A stop between the swap and the swap back would leave the victim
        # under the daemon's name, which is the racer's doing, not the daemon's.
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
        if libc.renameat2(dirfd, name, dirfd, victim, RENAME_EXCHANGE) == 0:
            swaps += 1
            time.sleep(0.0005)
            libc.renameat2(dirfd, name, dirfd, victim, RENAME_EXCHANGE)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
`;

export interface ExchangeRacer {
  /** Stops the racer; resolves to how many swaps it made. */
  stop(): Promise<number>;
}

/** Starts the racer as `user` on `directory`, swapping entries whose name starts with `prefix` with `victim` (a name in it). */
export async function startExchangeRacer(user: TestUser, directory: string, victim: string, prefix: string): Promise<ExchangeRacer> {
  const child: ChildProcess = spawn(
    'setpriv',
    ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups', '--', PYTHON, '-c', RACER, directory, victim, prefix],
    { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (stdout.startsWith('ready\n')) {
        clearInterval(poll);
        resolve();
      } else if (child.exitCode !== null) {
        clearInterval(poll);
        reject(new Error(`racer exited: ${stderr}`));
      }
    }, 10);
  });
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
      const swaps = Number(stdout.split('\n')[1]);
      if (!Number.isInteger(swaps)) throw new Error(`racer said ${JSON.stringify(stdout)}: ${stderr}`);
      return swaps;
    },
  };
}
