// dbus-next parses a signature string into a tree every time it reads or
// writes a value of that signature, the message body's and each variant's
// alike; the daemon sees the same handful of signatures on every call.
/* eslint-disable @typescript-eslint/no-require-imports */
const { parseSignature } = require('dbus-next/lib/signature') as { parseSignature(signature: string): SignatureTree[] };

export interface SignatureTree {
  type: string;
  child: SignatureTree[];
}

/**
 * Variants carry signatures a peer picks, so the cache stops growing here;
 * the daemon's own signatures and the contract's come first and stay.
 */
export const MAX_CACHED_SIGNATURES = 256;

const trees = new Map<string, readonly SignatureTree[]>();

/**
 * dbus-next's parse of `signature`, shared between calls: callers must not
 * change it. Throws what dbus-next throws for a bad signature (not cached).
 */
export function signatureTrees(signature: string): readonly SignatureTree[] {
  let tree = trees.get(signature);
  if (tree === undefined) {
    tree = parseSignature(signature);
    if (trees.size < MAX_CACHED_SIGNATURES) trees.set(signature, tree);
  }
  return tree;
}
