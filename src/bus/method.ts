// The shape every D-Bus method of the Manager interface has. The
// dispatcher runs the steps in this order for every call:
// caller → parse → checkFds → chooseAction → authorize → act → reply.
import type { Caller } from './caller';

export interface ActionChoice {
  /** polkit action id, e.g. "org.nsmount.allocate-user-namespace". */
  action: string;
  /** Details shown by polkit agents and visible to rules. */
  details: Record<string, string>;
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

export interface MethodDefinition<P> {
  name: string;
  inSignature: string;
  outSignature: string;
  /** Decode and validate the body; throws InvalidArgument naming the argument or key. */
  parse(body: unknown[], ctx: CallContext): P;
  /** Check the kind and ownership of passed fds before any authorization. */
  checkFds?(params: P, ctx: CallContext): void;
  /** Which polkit action guards this call, given what was asked. Root callers skip polkit. */
  chooseAction(params: P, ctx: CallContext): ActionChoice;
  act(params: P, ctx: CallContext): Promise<MethodReply> | MethodReply;
  /** Releases what parse/checkFds acquired beyond the message's own fds; runs on every path. */
  release?(params: P): void;
}

// Definitions are heterogeneous in P; the dispatcher only passes P from
// parse to the other steps, so erasing it here is safe.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMethodDefinition = MethodDefinition<any>;
