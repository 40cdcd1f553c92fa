// The shape every D-Bus method of the Manager interface has. The
// dispatcher runs the steps in this order for every call:
// caller → parse → checkFds → chooseAction → authorize → act → reply.
import type { Caller } from './caller';
import type { ActionId } from '../polkit/actions';

export interface ActionChoice {
  /** One of the ids in src/polkit/actions.ts. */
  action: ActionId;
  /**
   * Details shown by polkit agents and visible to rules. As a function, they
   * are worked out only when polkit is asked: never for root, whom the
   * dispatcher authorizes without polkit.
   */
  details: Record<string, string> | (() => Record<string, string>);
}

export interface MethodReply {
  signature: string;
  body: unknown[];
  /** fds inside `body` that the daemon owns and closes once the reply is written. */
  ownedFds?: number[];
  /**
   * Takes back what act left beyond the reply's fds (an attachment), for
   * a caller that left the bus before the reply: nobody would own it.
   */
  undo?(): void;
}

export interface CallContext {
  caller: Caller;
  /** The caller set ALLOW_INTERACTIVE_AUTHORIZATION. */
  interactive: boolean;
}

/**
 * A method's steps. `P` is what parse decoded from the body; `C` is what
 * checkFds learned from the passed fds (the plan chooseAction and act work
 * from), handed on by the dispatcher rather than stored in the params.
 */
interface MethodSteps<P, C> {
  name: string;
  /** Set when a call changes nothing: its successes are logged at debug, not info (src/bus/call-log.ts). */
  readsOnly?: true;
  inSignature: string;
  outSignature: string;
  /** Decode and validate the body; throws InvalidArgument naming the argument or key. */
  parse(body: unknown[], ctx: CallContext): P;
  /** Which polkit action guards this call, given what was asked. Root callers skip polkit. */
  chooseAction(params: P, ctx: CallContext, checked: C): ActionChoice;
  act(params: P, ctx: CallContext, checked: C): Promise<MethodReply> | MethodReply;
  /** Releases what parse/checkFds acquired beyond the message's own fds; runs on every path. */
  release?(params: P): void;
  /**
   * What checkFds already learned about closing some of the message's fds
   * (fd → whether its close may wait: close-fds.ts), so the dispatcher
   * need not look again. Asked only after checkFds succeeded.
   */
  knownCloses?(params: P, checked: C): KnownCloses;
  /**
   * True when act, for these params, neither reads nor writes the
   * registry: the dispatcher then runs it without taking the registry lock
   * (guardStep), which would protect nothing stored.
   */
  actLeavesRegistryAlone?(params: P): boolean;
}

/** fd → whether closing it may wait for someone the caller controls; a property of the open file, fixed once found. */
export type KnownCloses = ReadonlyMap<number, boolean>;

/** Check the kind and ownership of passed fds before any authorization, and return what was found. */
// A promise when the checks must look where a caller's file system may keep
// them waiting (FUSE, NFS), which happens off Node's thread.
type CheckFds<P, C> = (params: P, ctx: CallContext) => C | Promise<C> | (undefined extends C ? void : never);

// A method whose later steps need what checkFds found must have checkFds;
// one that takes no fds (C = undefined) may leave it out.
export type MethodDefinition<P, C = undefined> = MethodSteps<P, C> &
  (undefined extends C ? { checkFds?: CheckFds<P, C> } : { checkFds: CheckFds<P, C> });

// Definitions are heterogeneous in P and C; the dispatcher only passes P
// from parse and C from checkFds to the other steps, so erasing them is safe.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMethodDefinition = MethodDefinition<any, any>;
