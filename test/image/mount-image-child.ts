// Runs one mountImage in its own process for the concurrency test: prints
// what it read through the mount and exits with the mount fds still open,
// so process exit is what releases them.
import fs from 'node:fs';
import { mountImage } from '../../src/image/mount-image';

const [image, file] = process.argv.slice(2);
const fd = fs.openSync(image, 'r');
mountImage({ imageFd: fd, readOnly: true, forceNosuidNodev: true }).then(
  (mounted) => process.stdout.write(fs.readFileSync(`/proc/self/fd/${mounted[0].mountFd}/${file}`, 'utf8')),
  (error: unknown) => {
    process.stdout.write(`error: ${(error as Error).message}`);
    process.exitCode = 1;
  },
);
