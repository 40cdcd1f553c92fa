// dbus-next turns a received dict into a plain object, so of a key sent
// twice only the last value would survive and the first would vanish
// unseen. A caller that sends a key twice did not mean both; which one it
// meant is not ours to guess, so such a call is refused, naming the key.
/* eslint-disable @typescript-eslint/no-require-imports */
const { parseSignature } = require('dbus-next/lib/signature') as { parseSignature(signature: string): SignatureTree[] };

interface SignatureTree {
  type: string;
  child: SignatureTree[];
}

/** A dict argument of a call holds `key` more than once; `argIndex` counts the call's arguments from 0. */
export class DuplicateDictKey extends Error {
  constructor(
    readonly argIndex: number,
    readonly key: string,
  ) {
    super(`argument ${argIndex}: the key ${JSON.stringify(key)} is given more than once`);
  }
}

const trees = new Map<string, SignatureTree[]>();

/**
 * Throws DuplicateDictKey for the first top-level dict argument of the
 * body, as dbus-next's reader returns it (entries as [key, value] pairs),
 * that holds a key twice. The contract's dicts are all top-level a{sv}.
 */
export function checkDictKeysUnique(signature: string, rawBody: unknown[]): void {
  if (!signature.includes('a{')) return;
  let tree = trees.get(signature);
  if (!tree) {
    tree = parseSignature(signature);
    // Only signatures the dispatcher accepts get this far: a handful.
    trees.set(signature, tree);
  }
  tree.forEach((arg, argIndex) => {
    if (arg.type !== 'a' || arg.child[0]?.type !== '{') return;
    const entries = rawBody[argIndex];
    if (!Array.isArray(entries)) return;
    const seen = new Set<unknown>();
    for (const entry of entries) {
      const key = (entry as unknown[])[0];
      if (seen.has(key)) throw new DuplicateDictKey(argIndex, String(key));
      seen.add(key);
    }
  });
}
