// MakeDirectory: a directory owned by the foreign range's root inside a
// directory of the caller's, ready to be idmapped into a namespace.
import type { MethodDefinition, MethodReply } from '../bus/method';
import { parseOptions } from '../bus/options';
import { InvalidArgument, NotOwner } from '../errors';
import { validateComponentName } from '../idmap/component-name';
import { requireDirectory } from '../idmap/file-kind';
import { DEFAULT_DIRECTORY_MODE, makeForeignDirectoryFor, type OffThread } from '../idmap/make-directory';
import { directoryPath } from '../polkit/fd-path';
import { ACTIONS } from '../polkit/actions';

const OPTIONS = { Mode: 'u' } as const;

interface Params {
  parentFd: number;
  name: string;
  mode: number;
}

export interface MakeDirectoryDependencies {
  /** Where the work runs when the parent is on a file system that may keep it waiting (FUSE, NFS). */
  offThread?: OffThread;
}

export function makeDirectory(deps: MakeDirectoryDependencies = {}): MethodDefinition<Params> {
  return {
    name: 'MakeDirectory',
    inSignature: 'hsa{sv}',
    outSignature: 'h',
    parse([parent, name, options]) {
      const parsed = parseOptions(options, OPTIONS);
      const mode = parsed.Mode ?? DEFAULT_DIRECTORY_MODE;
      // Bits beyond the permission and special bits are not a mode at all;
      // special bits and o+w are masked off by the domain function.
      if (mode > 0o7777) throw new InvalidArgument('options.Mode', `0${mode.toString(8)} is not a file mode`);
      return { parentFd: parent as number, name: validateComponentName(name, 'name'), mode };
    },
    checkFds(params, { caller }) {
      const stats = requireDirectory(params.parentFd, 'parent');
      // The domain function creates wherever it is told; only the parent's
      // owner may add to it through us, since the daemon writes as root.
      if (caller.uid !== 0 && stats.uid !== caller.uid) {
        throw new NotOwner(`parent: the directory is owned by uid ${stats.uid}, not by the caller (uid ${caller.uid})`);
      }
    },
    chooseAction(params) {
      return {
        action: ACTIONS.makeDirectory,
        // A readlink of the parent that a root call has no use for.
        details: () => ({
          parent: directoryPath(params.parentFd),
          name: params.name,
          mode: `0${(params.mode & 0o775).toString(8)}`,
        }),
      };
    },
    act(params, { caller }) {
      const reply = (fd: number): MethodReply => ({ signature: 'h', body: [fd], ownedFds: [fd] });
      const work = deps.offThread && { offThread: deps.offThread, uid: caller.uid };
      const made = makeForeignDirectoryFor(params.parentFd, params.name, { mode: params.mode }, work);
      return typeof made === 'number' ? reply(made) : made.then(reply);
    },
  };
}
