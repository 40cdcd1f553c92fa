// A sequence of libnsmount calls written once and run either on Node's
// thread or, when they may wait for a caller's FUSE or NFS server, one by
// one on libuv's pool (off-thread.ts). The sequence is a generator that
// yields each call as a NativeStep and receives its result; a failed call
// is thrown into it as SystemError, so its try/catch/finally cleans up the
// same way on both paths.
import { SystemError } from '../errors';
import { asyncCall } from './off-thread';

export interface NativeStep {
  /** A libnsmount binding returning -errno on failure. */
  fn: unknown;
  args: unknown[];
  /** Names the call in a SystemError. */
  operation: string;
}

export type Steps<T> = Generator<NativeStep, T, number>;

export function nativeStep(fn: unknown, operation: string, ...args: unknown[]): NativeStep {
  return { fn, args, operation };
}

/** The call gave up on the steps (its time limit); thrown into them once, so they clean up and stop. */
export class StepsAbandoned extends Error {
  constructor() {
    super('abandoned after the time limit');
  }
}

export function runSteps<T>(steps: Steps<T>): T {
  let next = steps.next();
  while (!next.done) {
    const step = next.value;
    const ret = (step.fn as (...args: unknown[]) => number)(...step.args);
    next = ret < 0 ? steps.throw(new SystemError(-ret, step.operation)) : steps.next(ret);
  }
  return next.value;
}

/**
 * Runs each step on the pool. Once `signal` aborts, StepsAbandoned is
 * thrown into the steps before the next one; the cleanup steps that
 * follow still run, however long they wait.
 */
export async function runStepsOffThread<T>(steps: Steps<T>, signal: AbortSignal): Promise<T> {
  let told = false;
  let next = steps.next();
  while (!next.done) {
    if (signal.aborted && !told) {
      told = true;
      next = steps.throw(new StepsAbandoned());
      continue;
    }
    const step = next.value;
    const ret = await asyncCall<number>(step.fn, ...step.args);
    next = ret < 0 ? steps.throw(new SystemError(-ret, step.operation)) : steps.next(ret);
  }
  return next.value;
}
