// mountImage refuses an fd that is no readable image, naming the argument.
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BadFileDescriptor } from '../../src/errors';
import { mountImage } from '../../src/image/mount-image';
import { waitForNoLoopDevicesUnder } from '../helpers/images';
import { dir, rootFs, rootTest, useImageFiles } from './mount-image-fixture';

useImageFiles();

interface BadFdCase {
  open: () => { fd: number; cleanup: () => void };
  message: RegExp;
}

const BAD_FDS: Record<string, BadFdCase> = {
  'a directory fd': {
    open: () => {
      const fd = fs.openSync(dir, 'r');
      return { fd, cleanup: () => fs.closeSync(fd) };
    },
    message: /^image: expected a regular file or block device, got a directory$/,
  },
  'an O_PATH fd': {
    open: () => {
      const fd = fs.openSync(rootFs, 0o10000000);
      return { fd, cleanup: () => fs.closeSync(fd) };
    },
    message: /^image: an O_PATH fd cannot be read; open the image for reading$/,
  },
  'a write-only fd': {
    open: () => {
      const fd = fs.openSync(rootFs, fs.constants.O_WRONLY);
      return { fd, cleanup: () => fs.closeSync(fd) };
    },
    message: /write-only/,
  },
  'a pipe': {
    open: () => {
      const fifo = path.join(dir, `fifo-${process.hrtime.bigint()}`);
      execFileSync('mkfifo', [fifo]);
      const fd = fs.openSync(fifo, fs.constants.O_RDWR);
      return { fd, cleanup: () => fs.closeSync(fd) };
    },
    message: /got a pipe$/,
  },
  'a socket': {
    open: () => {
      const server = net.createServer().listen(path.join(dir, `sock-${process.hrtime.bigint()}`));
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      return { fd, cleanup: () => server.close() };
    },
    message: /got a socket$/,
  },
};

const refusesFd = test.macro({
  async exec(t: ExecutionContext, c: BadFdCase) {
    const { fd, cleanup } = c.open();
    try {
      const error = await t.throwsAsync(() => mountImage({ imageFd: fd, readOnly: true, forceNosuidNodev: true }), {
        instanceOf: BadFileDescriptor,
        message: c.message,
      });
      t.is(error?.argument, 'image');
    } finally {
      cleanup();
    }
    t.deepEqual(await waitForNoLoopDevicesUnder(dir), []);
  },
  title: (provided) => `refuses ${provided}`,
});

for (const [name, c] of Object.entries(BAD_FDS)) rootTest(name, refusesFd, c);
