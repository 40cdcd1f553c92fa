import test, { type ExecutionContext } from 'ava';
import { rootSkipReason, rootTest } from '../helpers/root';
import fs from 'node:fs';
import path from 'node:path';
import { classifyImage } from '../../src/image/trust';
import { statFdCached } from '../../src/native/stat';
import { tempDir } from '../helpers/images';

// Trust needs root-owned files; only root can create them.

let base: string;
let images: string;
test.before(() => {
  if (rootSkipReason) return;
  base = tempDir('nsmountd-trust-');
  images = path.join(base, 'images');
  fs.mkdirSync(images, { mode: 0o755 });
  fs.mkdirSync(path.join(images, 'sub'), { mode: 0o755 });
  fs.mkdirSync(path.join(base, 'elsewhere'), { mode: 0o755 });
});
test.after.always(() => {
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

interface TrustCase {
  /** Prepares the file and returns the path to open. */
  prepare: (name: string) => string;
  /** Runs between open and classify. */
  after?: (opened: string) => void;
  directories?: () => string[];
  trusted: boolean;
  reason: RegExp;
}

function file(dirName: string, name: string, mode = 0o644): string {
  const p = path.join(base, dirName, name);
  fs.writeFileSync(p, 'image', { mode });
  fs.chmodSync(p, mode);
  return p;
}

const classifies = test.macro({
  exec(t: ExecutionContext, c: TrustCase) {
    const name = `img-${t.title.replace(/\W+/g, '-')}`;
    const opened = c.prepare(name);
    const fd = fs.openSync(opened, 'r');
    try {
      c.after?.(opened);
      // Mount passes the stat it already took of the fd: the same answer either way.
      for (const image of [undefined, statFdCached(fd)]) {
        const result = classifyImage(fd, { imageDirectories: c.directories?.() ?? [images], image });
        t.is(result.trusted, c.trusted, result.reason);
        t.regex(result.reason, c.reason);
      }
    } finally {
      fs.closeSync(fd);
    }
  },
  title: (provided) => provided ?? '',
});

rootTest('a root-owned 0644 file in an image directory is trusted', classifies, {
  prepare: (name: string) => file('images', name),
  trusted: true,
  reason: /inside image directory/,
});
rootTest('a group-writable file is not trusted', classifies, {
  prepare: (name: string) => file('images', name, 0o664),
  trusted: false,
  reason: /writable by group\/others/,
});
rootTest('a file owned by another user is not trusted', classifies, {
  prepare: (name: string) => {
    const p = file('images', name);
    fs.chownSync(p, 1000, 1000);
    return p;
  },
  trusted: false,
  reason: /not owned by root/,
});
rootTest('a file in a subdirectory is not trusted', classifies, {
  prepare: (name: string) => file('images/sub', name),
  trusted: false,
  reason: /not directly inside/,
});
rootTest('a hard link outside the directory does not borrow trust', classifies, {
  prepare: (name: string) => {
    const inside = file('images', name);
    const outside = path.join(base, 'elsewhere', name);
    fs.linkSync(inside, outside);
    return outside;
  },
  trusted: false,
  reason: /not directly inside/,
});
rootTest('a file moved out and replaced after opening is not trusted', classifies, {
  prepare: (name: string) => file('images', name),
  after: (opened: string) => {
    fs.renameSync(opened, path.join(base, 'elsewhere', path.basename(opened)));
    fs.writeFileSync(opened, 'other', { mode: 0o644 });
  },
  trusted: false,
  reason: /not directly inside/,
});
rootTest('a deleted file is not trusted', classifies, {
  prepare: (name: string) => file('images', name),
  after: (opened: string) => fs.unlinkSync(opened),
  trusted: false,
  reason: /has no entry/,
});
rootTest('nothing is trusted without configured directories', classifies, {
  prepare: (name: string) => file('images', name),
  directories: () => [],
  trusted: false,
  reason: /no image directory/,
});
rootTest('a world-writable image directory confers no trust', classifies, {
  prepare: (name: string) => {
    fs.mkdirSync(path.join(base, 'open'), { recursive: true });
    fs.chmodSync(path.join(base, 'open'), 0o777);
    return file('open', name);
  },
  directories: () => [path.join(base, 'open')],
  trusted: false,
  reason: /writable by group\/others/,
});
// The fd's parent is looked up once for all configured directories: each
// directory must still be judged on its own, in order, whatever came first.
rootTest('a file in the last of several configured directories is trusted, after one that does not exist and one that is elsewhere', classifies, {
  prepare: (name: string) => file('images', name),
  directories: () => [path.join(base, 'missing'), path.join(base, 'elsewhere'), images],
  trusted: true,
  reason: /inside image directory .*images$/,
});
rootTest('a file elsewhere is judged against every configured directory and trusted by none', classifies, {
  prepare: (name: string) => file('elsewhere', name),
  directories: () => [images, path.join(base, 'missing'), path.join(base, 'images', 'sub')],
  trusted: false,
  reason: /not directly inside .*images; .*missing cannot be opened; not directly inside .*sub/,
});
