import { nsm_nss_uids, nsm_nss_gids, nsm_nss_uid_known, nsm_nss_gid_known } from './bindings';
import { check } from './check';

export interface NssIds {
  /** Sorted, without duplicates. */
  uids: number[];
  gids: number[];
}

type Enumerate = (out: Uint32Array, max: number) => number;

function collect(enumerate: Enumerate, operation: string): number[] {
  let out = new Uint32Array(1024);
  for (;;) {
    const count = check(enumerate(out, out.length), operation);
    // The database can grow between the two passes: loop until it fits.
    if (count <= out.length) {
      return [...new Set(out.subarray(0, count))].sort((a, b) => a - b);
    }
    out = new Uint32Array(count * 2);
  }
}

/**
 * Every uid and gid NSS enumerates (files, and any other enumerable
 * source). Blocks on NSS; uses glibc's global enumeration state, so call it
 * from the main thread only.
 */
export function listNssIds(): NssIds {
  return {
    uids: collect(nsm_nss_uids, 'getpwent_r'),
    gids: collect(nsm_nss_gids, 'getgrent_r'),
  };
}

/**
 * Whether NSS knows `id` as a user (getpwuid) or group (getgrgid): these
 * reach sources that do not enumerate. Throws SystemError when a source
 * could not answer, since then nobody can tell. Blocks on NSS.
 */
export function nssKnowsId(kind: 'uid' | 'gid', id: number): boolean {
  const r = kind === 'uid' ? nsm_nss_uid_known(id) : nsm_nss_gid_known(id);
  return check(r, kind === 'uid' ? `getpwuid(${id})` : `getgrgid(${id})`) === 1;
}
