// Receives every method call through dbus-next's low-level handler (the
// high-level API hides sender and flags), routes it, runs the method steps
// in a fixed order, maps errors to D-Bus names and closes every incoming fd
// on every path.
import dbus from 'dbus-next';
import type { Logger } from 'pino';
import type { MessageBus } from './connection';
import { onUndeliveredMessage, takeMessageFds } from './connection';
import type { CallerDirectory } from './caller';
import type { AnyMethodDefinition, CallContext, MethodReply } from './method';
import { Introspection } from './introspection';
import { OBJECT_PATH, MANAGER_INTERFACE, ALLOW_INTERACTIVE_AUTHORIZATION } from './names';
import type { Authority } from '../polkit/authority';
import { NsMountError, NotAuthorized, Unavailable, QuotaExceeded, SystemError } from '../errors';
import { refusalError } from '../polkit/refusal';
import { closeQuietly } from '../native/fd';

const NO_REPLY_EXPECTED = 0x1;
const METHOD_CALL = 1;

const INTROSPECTABLE = 'org.freedesktop.DBus.Introspectable';
const PEER = 'org.freedesktop.DBus.Peer';
const PROPERTIES = 'org.freedesktop.DBus.Properties';

type Message = dbus.Message;

export interface PropertySource {
  /** All readable properties of the Manager interface, as variants. */
  all(): Record<string, dbus.Variant>;
}

export interface DispatcherOptions {
  bus: MessageBus;
  methods: AnyMethodDefinition[];
  introspection: Introspection;
  properties: PropertySource;
  authority: Authority;
  callers: CallerDirectory;
  log: Logger;
  machineId: () => string;
  /**
   * Runs a method's act once what it needs is free (the registry lock),
   * waiting without blocking other calls; default: at once.
   */
  guardStep?: <T>(step: () => T) => Promise<T>;
  /** Manager calls one non-root uid may have in flight at once; unlimited when absent. */
  callsPerUid?: number;
}

class BusError extends Error {
  constructor(readonly dbusName: string, message: string) {
    super(message);
  }
}

export class Dispatcher {
  private readonly methods = new Map<string, AnyMethodDefinition>();
  /** Manager calls in flight per non-root caller uid, over all its connections. */
  private readonly callsByUid = new Map<number, number>();
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private closing = false;
  /** Milliseconds timestamp of the last call that finished, for idle exit. */
  lastActivity = Date.now();

  constructor(private readonly opts: DispatcherOptions) {
    for (const m of opts.methods) this.methods.set(m.name, m);
  }

  attach(): void {
    this.opts.bus.addMethodHandler((msg: Message) => this.onMessage(msg));
    onUndeliveredMessage(this.opts.bus, (message, err, { delivered }) => this.onUndelivered(message, err, delivered));
  }

  /**
   * A message dbus-next could not read (or whose handling threw inside
   * dbus-next) never reaches onMessage; its caller still gets an answer.
   */
  private onUndelivered(message: Record<string, unknown>, err: unknown, delivered: boolean): void {
    const member = typeof message.member === 'string' ? message.member : undefined;
    const answerable = !delivered && message.type === METHOD_CALL && typeof message.serial === 'number' && typeof message.sender === 'string';
    if (!answerable) {
      this.opts.log.error({ err, member, sender: message.sender, delivered }, 'a message could not be handled');
      return;
    }
    this.replyError(message as unknown as Message, err, { method: member, started: process.hrtime.bigint() });
  }

  get callsInFlight(): number {
    return this.inFlight;
  }

  /** Refuse new calls and resolve once every call in flight has replied. */
  async drain(): Promise<void> {
    this.closing = true;
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private onMessage(msg: Message): boolean {
    if (msg.type !== METHOD_CALL) return false;
    const fds = takeMessageFds(msg);
    this.inFlight++;
    const started = process.hrtime.bigint();
    const settled = this.route(msg, fds, started).catch((err: unknown) => {
      this.replyError(msg, err, { method: msg.member, started });
    });
    void settled.finally(() => {
      for (const fd of fds) closeQuietly(fd);
      this.inFlight--;
      this.lastActivity = Date.now();
      if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
    return true;
  }

  private async route(msg: Message, fds: number[], started: bigint): Promise<void> {
    const path = msg.path ?? '';
    const iface = msg.interface;
    if (iface === PEER) return this.peer(msg);
    if (iface === INTROSPECTABLE || (!iface && msg.member === 'Introspect')) {
      const xml = this.opts.introspection.forPath(path);
      if (xml === undefined) throw new BusError('org.freedesktop.DBus.Error.UnknownObject', `no object at ${path}`);
      if (msg.member !== 'Introspect') throw unknownMethod(msg);
      takesNoArguments(msg);
      return this.reply(msg, { signature: 's', body: [xml] });
    }
    if (path !== OBJECT_PATH) throw new BusError('org.freedesktop.DBus.Error.UnknownObject', `no object at ${path}`);
    if (iface === PROPERTIES) return this.propertiesCall(msg);
    if (iface && iface !== MANAGER_INTERFACE) {
      throw new BusError('org.freedesktop.DBus.Error.UnknownInterface', `no interface ${iface} at ${path}`);
    }
    const method = this.methods.get(msg.member ?? '');
    if (!method) throw unknownMethod(msg);
    return this.runMethod(method, msg, fds, started);
  }

  private async runMethod(method: AnyMethodDefinition, msg: Message, fds: number[], started: bigint): Promise<void> {
    const log = { method: method.name, started } as { method: string; started: bigint; uid?: number; pid?: number; action?: string; polkit?: string };
    let params: unknown;
    let parsed = false;
    let countedUid: number | undefined;
    try {
      if ((msg.signature ?? '') !== method.inSignature) {
        throw new BusError(
          'org.freedesktop.DBus.Error.InvalidArgs',
          `${method.name} takes signature '${method.inSignature}', got '${msg.signature ?? ''}'`,
        );
      }
      if (this.closing) throw new Unavailable('nsmountd is shutting down; call again in a moment');
      const caller = await this.opts.callers.lookup(msg.sender);
      log.uid = caller.uid;
      log.pid = caller.pid;
      if (caller.uid !== 0) {
        this.countCall(caller.uid);
        countedUid = caller.uid;
      }
      const ctx: CallContext = { caller, interactive: ((msg.flags ?? 0) & ALLOW_INTERACTIVE_AUTHORIZATION) !== 0 };
      params = method.parse(msg.body ?? [], ctx);
      parsed = true;
      const checked: unknown = method.checkFds?.(params, ctx);
      const choice = method.chooseAction(params, ctx, checked);
      log.action = choice.action;
      if (caller.uid === 0) {
        log.polkit = 'root';
      } else {
        const result = await this.opts.authority.check({
          sender: caller.sender,
          action: choice.action,
          details: choice.details,
          interactive: ctx.interactive,
        });
        log.polkit = result.kind === 'denied' && result.cause ? `unreachable: ${result.cause}` : result.kind;
        if (result.kind !== 'authorized') throw refusalError(result, choice.action, { interactive: ctx.interactive });
      }
      // Acting for a caller that already left would leave resources nobody owns.
      if (this.opts.callers.hasVanished(caller.sender)) throw new NotAuthorized('The app left the bus before nsmountd could answer, so nothing was done.');
      // act waits for the registry without stalling other calls; the steps
      // before it only read it, and fail at once while another process holds it.
      const guard = this.opts.guardStep ?? (async <T>(step: () => T) => step());
      const reply = await guard(() => method.act(params, ctx, checked));
      // Work that outlives the reply must have someone to receive it; a caller
      // who gave up meanwhile (a client timeout during a slow password) must
      // not leave an attachment nobody knows about.
      if (reply.undo && !(await this.opts.callers.stillConnected(caller.sender))) {
        this.takeBack(reply, log);
        return;
      }
      this.reply(msg, reply, log);
    } catch (err) {
      this.replyError(msg, err, log);
    } finally {
      if (parsed) method.release?.(params);
      if (countedUid !== undefined) this.uncountCall(countedUid);
    }
  }

  /**
   * A caller with many calls stuck in slow steps (a polkit dialog, a slow
   * file system) holds their fds and polkit checks: bounded per uid, so it
   * cannot take the daemon's fd table or polkitd for itself.
   */
  private countCall(uid: number): void {
    const limit = this.opts.callsPerUid ?? Infinity;
    const inFlight = this.callsByUid.get(uid) ?? 0;
    if (inFlight >= limit) {
      throw new QuotaExceeded(`You already have ${inFlight} requests in progress, the most nsmountd takes from one user at once. Try again when one has finished.`);
    }
    this.callsByUid.set(uid, inFlight + 1);
  }

  private uncountCall(uid: number): void {
    const inFlight = (this.callsByUid.get(uid) ?? 1) - 1;
    if (inFlight > 0) this.callsByUid.set(uid, inFlight);
    else this.callsByUid.delete(uid);
  }

  private reply(msg: Message, reply: MethodReply, log?: { method: string; started: bigint; uid?: number; pid?: number; action?: string; polkit?: string }): void {
    try {
      if (((msg.flags ?? 0) & NO_REPLY_EXPECTED) === 0) {
        this.opts.bus.send(dbus.Message.newMethodReturn(msg, reply.signature, reply.body));
      }
      if (log) this.logCall(log, 'ok');
    } finally {
      // The transport sends its own copies (usocket-fd-write.ts), so ours can go
      // right away, even when the reply waits behind another write.
      for (const fd of reply.ownedFds ?? []) closeQuietly(fd);
    }
  }

  private takeBack(reply: MethodReply, log: { method: string; started: bigint; uid?: number; pid?: number; action?: string; polkit?: string }): void {
    try {
      reply.undo!();
      this.logCall(log, 'undone', 'the caller left the bus before the reply; what the call made was taken back');
    } catch (err) {
      this.opts.log.error({ err, method: log.method }, 'could not take back the work of a caller that left');
      this.logCall(log, 'left', 'the caller left the bus before the reply; taking back what the call made failed');
    } finally {
      for (const fd of reply.ownedFds ?? []) closeQuietly(fd);
    }
  }

  private replyError(msg: Message, err: unknown, log: { method?: string; started: bigint; uid?: number; pid?: number; action?: string; polkit?: string }): void {
    let name: string;
    let text: string;
    let detail: string | undefined;
    if (err instanceof SystemError) {
      name = err.dbusName;
      text = err.forPerson;
      detail = err.message;
    } else if (err instanceof NsMountError || err instanceof BusError) {
      name = err.dbusName;
      text = err.message;
    } else {
      name = 'org.nsmount.NsMount1.Error.System';
      text = 'internal error; see the nsmountd log';
      this.opts.log.error({ err, method: log.method }, 'unexpected failure');
    }
    if (((msg.flags ?? 0) & NO_REPLY_EXPECTED) === 0) {
      try {
        // dbus-next types newError(msg) as a string; it takes the message.
        this.opts.bus.send(dbus.Message.newError(msg as unknown as string, name, text));
      } catch (sendErr) {
        this.opts.log.warn({ err: sendErr }, 'could not send error reply');
      }
    }
    // The log keeps the technical detail (operation and errno name) the reply leaves out.
    if (log.method) this.logCall({ ...log, method: log.method }, name, detail ?? text);
  }

  private logCall(
    log: { method: string; started: bigint; uid?: number; pid?: number; action?: string; polkit?: string },
    outcome: string,
    error?: string,
  ): void {
    const durationMs = Number(process.hrtime.bigint() - log.started) / 1e6;
    this.opts.log.info(
      { uid: log.uid, pid: log.pid, method: log.method, action: log.action, polkit: log.polkit, outcome, error, durationMs: Math.round(durationMs * 1000) / 1000 },
      'call',
    );
  }

  private peer(msg: Message): void {
    if (msg.member === 'Ping') {
      takesNoArguments(msg);
      return this.reply(msg, { signature: '', body: [] });
    }
    if (msg.member === 'GetMachineId') {
      takesNoArguments(msg);
      return this.reply(msg, { signature: 's', body: [this.opts.machineId()] });
    }
    throw unknownMethod(msg);
  }

  private propertiesCall(msg: Message): void {
    const body = msg.body ?? [];
    const all = this.opts.properties.all();
    const wantInterface = (name: unknown) => {
      if (name !== MANAGER_INTERFACE && name !== '') {
        throw new BusError('org.freedesktop.DBus.Error.UnknownInterface', `no interface ${String(name)} at ${OBJECT_PATH}`);
      }
    };
    switch (msg.member) {
      case 'Get': {
        if (msg.signature !== 'ss') throw new BusError('org.freedesktop.DBus.Error.InvalidArgs', "Get takes signature 'ss'");
        wantInterface(body[0]);
        const value = all[body[1] as string];
        if (!value) throw new BusError('org.freedesktop.DBus.Error.UnknownProperty', `no property ${String(body[1])}`);
        return this.reply(msg, { signature: 'v', body: [value] });
      }
      case 'GetAll':
        if (msg.signature !== 's') throw new BusError('org.freedesktop.DBus.Error.InvalidArgs', "GetAll takes signature 's'");
        wantInterface(body[0]);
        return this.reply(msg, { signature: 'a{sv}', body: [all] });
      case 'Set':
        if (msg.signature !== 'ssv') throw new BusError('org.freedesktop.DBus.Error.InvalidArgs', "Set takes signature 'ssv'");
        wantInterface(body[0]);
        if (!all[body[1] as string]) throw new BusError('org.freedesktop.DBus.Error.UnknownProperty', `no property ${String(body[1])}`);
        throw new BusError('org.freedesktop.DBus.Error.PropertyReadOnly', `property ${String(body[1])} is read-only`);
      default:
        throw unknownMethod(msg);
    }
  }
}

// Introspect, Ping and GetMachineId take no arguments. Answering a call
// with arguments as if it had none would tell the caller a signature works
// that the interface does not have; dbus-daemon and GDBus refuse it too.
function takesNoArguments(msg: Message): void {
  if ((msg.signature ?? '') !== '') {
    throw new BusError('org.freedesktop.DBus.Error.InvalidArgs', `${msg.member} takes no arguments, got signature '${msg.signature}'`);
  }
}

function unknownMethod(msg: Message): BusError {
  return new BusError(
    'org.freedesktop.DBus.Error.UnknownMethod',
    `no method ${msg.member ?? ''} on interface ${msg.interface ?? '(none)'} with signature '${msg.signature ?? ''}'`,
  );
}
