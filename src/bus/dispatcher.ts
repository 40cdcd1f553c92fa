// Receives every method call through dbus-next's low-level handler (the
// high-level API hides sender and flags), routes it, runs the method steps
// in a fixed order, maps errors to D-Bus names and closes every incoming fd
// on every path.
import dbus from 'dbus-next';
import type { Logger } from 'pino';
import type { MessageBus } from './connection';
import { onUndeliveredMessage, screenMessageBodies, takeMessageFds } from './connection';
import type { CallerDirectory } from './caller';
import type { AnyMethodDefinition, CallContext, KnownCloses, MethodReply } from './method';
import { Introspection } from './introspection';
import { DuplicateDictKey } from './dict-keys';
import { BusError, takesNoArguments, unknownMethod, unknownObject } from './bus-error';
import { logCall, errorReplyFor, type CallLog } from './call-log';
import { CallsPerUid } from './calls-per-uid';
import { INTROSPECTABLE, PEER, PROPERTIES, peerCall, propertiesCall, type PropertySource } from './standard-interfaces';
import { OBJECT_PATH, MANAGER_INTERFACE, ALLOW_INTERACTIVE_AUTHORIZATION } from './names';
import type { Authority } from '../polkit/authority';
import { InvalidArgument, NotAuthorized, Unavailable } from '../errors';
import { refusalError } from '../polkit/refusal';
import { closeQuietly } from '../native/fd';
import { callBodyVerdict, MAX_CALL_BODY_BYTES, type Routes } from './body-screen';
import { guardErrorReplies } from './reply-guard';
import type { OffThread } from '../native/off-thread';
import { closeMessageFds } from './close-fds';

const NO_REPLY_EXPECTED = 0x1;
const METHOD_CALL = 1;
const SIGNAL = 4;
/** The only sender whose signals the daemon listens to (NameOwnerChanged). */
const BUS_DRIVER = 'org.freedesktop.DBus';

type Message = dbus.Message;
/** What a call's steps found out that its fd closing can use, instead of looking again. */
interface Learned {
  closes?: KnownCloses;
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
  /** Where incoming fds whose close may wait (a file on FUSE or NFS) are closed; on Node's thread when absent. */
  offThread?: OffThread;
}

export class Dispatcher {
  private readonly methods = new Map<string, AnyMethodDefinition>();
  private readonly callsPerUid: CallsPerUid;
  private readonly routes: Routes;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private closing = false;
  /** Milliseconds timestamp of the last call that finished, for idle exit. */
  lastActivity = Date.now();

  constructor(private readonly opts: DispatcherOptions) {
    for (const m of opts.methods) this.methods.set(m.name, m);
    this.callsPerUid = new CallsPerUid(opts.callsPerUid);
    this.routes = { methods: this.methods, introspectable: (path) => opts.introspection.forPath(path) !== undefined };
  }

  attach(): void {
    const { bus } = this.opts;
    guardErrorReplies(bus, this.opts.log);
    // A handler that throws or declines a call hands it to dbus-next's own
    // fallbacks; neither may happen.
    bus.addMethodHandler((msg: Message) => {
      try {
        return this.onMessage(msg);
      } catch (err) {
        this.replyError(msg, err, { method: msg.member, started: process.hrtime.bigint() });
        return true;
      }
    });
    // Only calls carry fds the daemon uses; the rest (a signal a peer sent
    // us with fds attached) would stay open for good.
    bus.on('message', (msg: Message) => {
      if (msg.type !== METHOD_CALL) this.closeFds(msg, takeMessageFds(msg));
    });
    screenMessageBodies(bus, {
      wantsBody: (header, bodyLength) => this.wantsBody(header, bodyLength),
      unread: (header, bodyLength, fds) => this.onUnread(header, bodyLength, fds),
    });
    onUndeliveredMessage(bus, (message, err, { delivered }) => this.onUndelivered(message, err, delivered));
  }

  private wantsBody(header: Record<string, unknown>, bodyLength: number): boolean {
    if (header.type === METHOD_CALL) return callBodyVerdict(header, bodyLength, this.routes) === 'read';
    if (header.type === SIGNAL) return header.sender === BUS_DRIVER;
    return true; // replies to the daemon's own calls
  }

  /** A message whose body was not decoded: a call is answered from its header alone. */
  private onUnread(header: Record<string, unknown>, bodyLength: number, fds: number[]): void {
    const msg = { ...header, signature: header.signature ?? '', body: [] } as unknown as Message;
    if (header.type !== METHOD_CALL) {
      this.closeFds(msg, fds);
      return;
    }
    if (callBodyVerdict(header, bodyLength, this.routes) === 'too-large') {
      this.closeFds(msg, fds);
      const member = String(header.member);
      const err = new BusError(
        'org.freedesktop.DBus.Error.InvalidArgs',
        `the arguments of ${member} take ${bodyLength} bytes; nsmountd reads at most ${MAX_CALL_BODY_BYTES}`,
      );
      this.replyError(msg, err, { method: member, started: process.hrtime.bigint() });
      return;
    }
    // Refused from the header (no such member, another signature): route
    // answers exactly as it would with the body, which it never reads.
    this.onMessage(msg, fds);
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
    const answer =
      err instanceof DuplicateDictKey
        ? new InvalidArgument(
            `${(member && this.opts.introspection.inArgName(member, err.argIndex)) ?? `argument ${err.argIndex}`}.${err.key}`,
            'given more than once; send each key once',
          )
        : err;
    this.replyError(message as unknown as Message, answer, { method: member, started: process.hrtime.bigint() });
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

  /** `unreadFds`: the fds of a call whose body was not decoded, which dbus-next never saw. */
  private onMessage(msg: Message, unreadFds?: number[]): boolean {
    if (msg.type !== METHOD_CALL) return false;
    const fds = unreadFds ?? takeMessageFds(msg);
    if (msg.interface === PEER) {
      this.answerPeer(msg, fds);
      return true;
    }
    this.inFlight++;
    const started = process.hrtime.bigint();
    const learned: Learned = {};
    const settled = this.route(msg, fds, started, learned).catch((err: unknown) => {
      this.replyError(msg, err, { method: msg.member, started });
    });
    void settled.finally(() => {
      this.closeFds(msg, fds, learned.closes);
      this.inFlight--;
      this.lastActivity = Date.now();
      if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
    return true;
  }

  /**
   * Peer calls need nothing but the header and wait for nothing, so they
   * are answered at once, without the promises and bookkeeping of calls
   * that wait (Ping is the floor under every call's cost).
   */
  private answerPeer(msg: Message, fds: number[]): void {
    try {
      this.reply(msg, peerCall(msg, this.opts.machineId));
    } catch (err) {
      this.replyError(msg, err, { method: msg.member, started: process.hrtime.bigint() });
    } finally {
      if (fds.length > 0) this.closeFds(msg, fds);
      this.lastActivity = Date.now();
    }
  }

  private closeFds(msg: Message, fds: number[], known?: KnownCloses): void {
    const offThread = this.opts.offThread;
    if (!offThread) {
      for (const fd of fds) closeQuietly(fd);
      return;
    }
    closeMessageFds(fds, {
      offThread,
      uid: async () => (await this.opts.callers.lookup(msg.sender)).uid,
      onError: (err) => this.opts.log.error({ err, member: msg.member }, 'could not close a file the caller passed'),
      known,
    });
  }

  private async route(msg: Message, fds: number[], started: bigint, learned: Learned): Promise<void> {
    const path = msg.path ?? '';
    const iface = msg.interface;
    if (iface === INTROSPECTABLE || (!iface && msg.member === 'Introspect')) {
      const xml = this.opts.introspection.forPath(path);
      if (xml === undefined) throw unknownObject(path);
      if (msg.member !== 'Introspect') throw unknownMethod(msg);
      takesNoArguments(msg);
      return this.reply(msg, { signature: 's', body: [xml] });
    }
    if (path !== OBJECT_PATH) throw unknownObject(path);
    if (iface === PROPERTIES) return this.reply(msg, propertiesCall(msg, this.opts.properties));
    if (iface && iface !== MANAGER_INTERFACE) {
      throw new BusError('org.freedesktop.DBus.Error.UnknownInterface', `no interface ${iface} at ${path}`);
    }
    const method = this.methods.get(msg.member ?? '');
    if (!method) throw unknownMethod(msg);
    return this.runMethod(method, msg, fds, started, learned);
  }

  private async runMethod(method: AnyMethodDefinition, msg: Message, fds: number[], started: bigint, learned: Learned): Promise<void> {
    const log: CallLog = { method: method.name, started, readsOnly: method.readsOnly };
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
        this.callsPerUid.enter(caller.uid);
        countedUid = caller.uid;
      }
      const ctx: CallContext = { caller, interactive: ((msg.flags ?? 0) & ALLOW_INTERACTIVE_AUTHORIZATION) !== 0 };
      params = method.parse(msg.body ?? [], ctx);
      parsed = true;
      const checked: unknown = await method.checkFds?.(params, ctx);
      learned.closes = method.knownCloses?.(params, checked);
      const choice = method.chooseAction(params, ctx, checked);
      log.action = choice.action;
      if (caller.uid === 0) {
        log.polkit = 'root';
      } else {
        const result = await this.opts.authority.check({
          sender: caller.sender,
          uid: caller.uid,
          action: choice.action,
          details: typeof choice.details === 'function' ? choice.details() : choice.details,
          interactive: ctx.interactive,
        });
        log.polkit = result.kind === 'denied' && result.cause ? `unreachable: ${result.cause}` : result.kind;
        if (result.kind !== 'authorized') throw refusalError(result, choice.action, { interactive: ctx.interactive });
      }
      // Acting for a caller that already left would leave resources nobody owns.
      if (this.opts.callers.hasVanished(caller.sender)) throw new NotAuthorized('The app left the bus before nsmountd could answer, so nothing was done.');
      // act waits for the registry without stalling other calls; the steps
      // before it only read it, and fail at once while another process holds it.
      const guard = (!method.actLeavesRegistryAlone?.(params) && this.opts.guardStep) || (async <T>(step: () => T) => step());
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
      if (countedUid !== undefined) this.callsPerUid.leave(countedUid);
    }
  }

  private reply(msg: Message, reply: MethodReply, log?: CallLog): void {
    try {
      if (((msg.flags ?? 0) & NO_REPLY_EXPECTED) === 0) {
        this.opts.bus.send(dbus.Message.newMethodReturn(msg, reply.signature, reply.body));
      }
      if (log) logCall(this.opts.log, log, 'ok');
    } finally {
      // The transport sends its own copies (usocket-fd-write.ts), so ours can go
      // right away, even when the reply waits behind another write.
      for (const fd of reply.ownedFds ?? []) closeQuietly(fd);
    }
  }

  private takeBack(reply: MethodReply, log: CallLog): void {
    try {
      reply.undo!();
      logCall(this.opts.log, log, 'undone', 'the caller left the bus before the reply; what the call made was taken back');
    } catch (err) {
      this.opts.log.error({ err, method: log.method }, 'could not take back the work of a caller that left');
      logCall(this.opts.log, log, 'left', 'the caller left the bus before the reply; taking back what the call made failed');
    } finally {
      for (const fd of reply.ownedFds ?? []) closeQuietly(fd);
    }
  }

  private replyError(msg: Message, err: unknown, log: Omit<CallLog, 'method'> & { method?: string }): void {
    const { name, text, detail, unexpected } = errorReplyFor(err);
    if (unexpected) this.opts.log.error({ err, method: log.method }, 'unexpected failure');
    if (((msg.flags ?? 0) & NO_REPLY_EXPECTED) === 0) {
      try {
        // dbus-next types newError(msg) as a string; it takes the message.
        this.opts.bus.send(dbus.Message.newError(msg as unknown as string, name, text));
      } catch (sendErr) {
        this.opts.log.warn({ err: sendErr }, 'could not send error reply');
      }
    }
    // The log keeps the technical detail (operation and errno name) the reply leaves out.
    if (log.method) logCall(this.opts.log, { ...log, method: log.method }, name, detail ?? text);
  }
}
