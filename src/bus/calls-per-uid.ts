// A caller with many calls stuck in slow steps (a polkit dialog, a slow
// file system) holds their fds and polkit checks: bounded per uid, so it
// cannot take the daemon's fd table or polkitd for itself.
import { QuotaExceeded } from '../errors';

export class CallsPerUid {
  /** Manager calls in flight per non-root caller uid, over all its connections. */
  private readonly inFlight = new Map<number, number>();

  /** `limit`: calls one uid may have in flight at once; unlimited when absent. */
  constructor(private readonly limit = Infinity) {}

  /** Counts a call in, or throws QuotaExceeded when `uid` has `limit` already. */
  enter(uid: number): void {
    const inFlight = this.inFlight.get(uid) ?? 0;
    if (inFlight >= this.limit) {
      throw new QuotaExceeded(`You already have ${inFlight} requests in progress, the most nsmountd takes from one user at once. Try again when one has finished.`);
    }
    this.inFlight.set(uid, inFlight + 1);
  }

  leave(uid: number): void {
    const inFlight = (this.inFlight.get(uid) ?? 1) - 1;
    if (inFlight > 0) this.inFlight.set(uid, inFlight);
    else this.inFlight.delete(uid);
  }
}
