// Who is calling. The identity comes only from the bus daemon, never from
// message arguments; any failure to learn it is a deny.
import type { MessageBus } from './connection';
import { callBus, DBUS_DAEMON } from './bus-call';
import { NotAuthorized } from '../errors';
import { primaryGroupOf } from '../native/passwd';

export interface Caller {
  /** Unique bus name, e.g. ":1.42". */
  sender: string;
  uid: number;
  gid: number;
  pid?: number;
}

type CredentialsLookup = (uid: number) => number | undefined;

/**
 * Unique names are never reused during a bus's lifetime, so credentials can
 * be cached per name until the name goes away.
 */
export class CallerDirectory {
  private readonly cache = new Map<string, Caller>();
  /** Lookups waiting for the bus: concurrent calls of one new sender ask it once. */
  private readonly pending = new Map<string, Promise<Caller>>();
  private readonly vanished = new Set<string>();

  constructor(
    private readonly bus: MessageBus,
    private readonly opts: {
      primaryGroup?: CredentialsLookup;
      maxEntries?: number;
      /** Why a uid may not call at all (e.g. it is a container's id), or undefined. */
      refuseUid?: (uid: number) => string | undefined;
    } = {},
  ) {}

  /** Feed NameOwnerChanged here so departed callers are forgotten and known to be gone. */
  nameOwnerChanged(name: string, newOwner: string): void {
    if (!name.startsWith(':') || newOwner !== '') return;
    this.cache.delete(name);
    this.vanished.add(name);
    if (this.vanished.size > 4096) {
      const oldest = this.vanished.values().next().value;
      if (oldest !== undefined) this.vanished.delete(oldest);
    }
  }

  /** True once the bus has told us the name disconnected. */
  hasVanished(sender: string): boolean {
    return this.vanished.has(sender);
  }

  /**
   * Asks the bus whether the caller is still connected: the answer comes
   * after any NameOwnerChanged the bus sent before it, so a caller gone
   * before the question is never reported present. When the bus cannot
   * say, the caller counts as present: what was made stays recorded, and
   * its owner can still Unmount it.
   */
  async stillConnected(sender: string): Promise<boolean> {
    if (this.vanished.has(sender)) return false;
    try {
      const [owned] = await callBus(this.bus, { ...DBUS_DAEMON, member: 'NameHasOwner', signature: 's', body: [sender] });
      return owned !== false;
    } catch {
      return true;
    }
  }

  async lookup(sender: string | undefined): Promise<Caller> {
    const caller = await this.identify(sender);
    const refusal = this.opts.refuseUid?.(caller.uid);
    if (refusal) throw new NotAuthorized(refusal);
    return caller;
  }

  private async identify(sender: string | undefined): Promise<Caller> {
    if (!sender) throw new NotAuthorized('nsmountd could not tell who is calling (the message names no sender), so it refused.');
    const cached = this.cache.get(sender);
    if (cached) return cached;
    if (this.vanished.has(sender)) throw new NotAuthorized('The app left the bus before nsmountd could answer, so nothing was done.');
    let asking = this.pending.get(sender);
    if (!asking) {
      asking = this.askBus(sender);
      this.pending.set(sender, asking);
      const forget = () => this.pending.delete(sender);
      asking.then(forget, forget);
    }
    return asking;
  }

  private async askBus(sender: string): Promise<Caller> {
    let credentials: Record<string, { value: unknown }>;
    try {
      const [reply] = await callBus(this.bus, {
        ...DBUS_DAEMON,
        member: 'GetConnectionCredentials',
        signature: 's',
        body: [sender],
      });
      credentials = reply as Record<string, { value: unknown }>;
    } catch {
      throw new NotAuthorized('nsmountd could not ask the bus who is calling, so it refused. Try again.');
    }
    const uid = credentials.UnixUserID?.value;
    if (typeof uid !== 'number') throw new NotAuthorized('The bus did not say which user is calling, so nsmountd refused.');
    const groups = credentials.UnixGroupIDs?.value;
    const pid = credentials.ProcessID?.value;
    const gid =
      (this.opts.primaryGroup ?? primaryGroupOf)(uid) ??
      (Array.isArray(groups) && typeof groups[0] === 'number' ? groups[0] : uid);
    const caller: Caller = { sender, uid, gid, pid: typeof pid === 'number' ? pid : undefined };
    // A name gone meanwhile never comes back: caching it would only hold memory.
    if (this.vanished.has(sender)) return caller;
    if (this.cache.size >= (this.opts.maxEntries ?? 10000)) this.cache.clear();
    this.cache.set(sender, caller);
    return caller;
  }
}
