import { nsm_primary_gid } from './bindings';

/** The uid's primary gid from NSS, or undefined when NSS does not know the uid. */
export function primaryGroupOf(uid: number): number | undefined {
  const r = Number(nsm_primary_gid(uid));
  return r < 0 ? undefined : r;
}
