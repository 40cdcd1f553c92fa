// Most tests need root (namespaces, mounts, other users) and the test
// users that scripts/test.js installs. Anywhere else they skip, each with
// its reason in its title, instead of failing confusingly; under CI=true
// scripts/test.js turns any skip into a failure. This is the only place
// that decides whether a test can run here.
import test, { type Macro } from 'ava';

const IS_ROOT = process.getuid?.() === 0;
const IN_TEST_NAMESPACE = process.env.NSMOUNTD_TEST_NAMESPACE === '1';

/** Why root-only tests cannot run here, or undefined when they can. Hooks should return early when set. */
export const rootSkipReason: string | undefined = !IS_ROOT
  ? 'needs root: run "npm test" as root'
  : !IN_TEST_NAMESPACE
    ? 'needs the test namespace: run through "npm test"'
    : undefined;

type Declare = (...args: unknown[]) => void;

function isMacro(value: unknown): value is Macro<unknown[]> {
  return typeof value === 'object' && value !== null && typeof (value as { exec?: unknown }).exec === 'function';
}

/** Declares through `skip` with the reason appended to the title, whatever form the title takes. */
function skipping(skip: Declare, reason: string): Declare {
  const suffix = ` (skipped: ${reason})`;
  return (...args: unknown[]) => {
    const [first, second] = args;
    if (typeof first === 'string' && isMacro(second) && second.title) {
      const macro = second;
      args[1] = { exec: macro.exec, title: (provided: string | undefined, ...rest: unknown[]) => macro.title!(provided, ...rest) + suffix };
    } else if (typeof first === 'string') {
      args[0] = first + suffix;
    } else if (isMacro(first)) {
      const macro = first;
      args[0] = { exec: macro.exec, title: (provided: string | undefined, ...rest: unknown[]) => (macro.title ? macro.title(provided, ...rest) : provided ?? '') + suffix };
    }
    skip(...args);
  };
}

function skippingTest(reason: string): typeof test {
  const declare = skipping(test.skip as unknown as Declare, reason) as unknown as typeof test & { serial: typeof test.serial };
  (declare as { serial: unknown }).serial = skipping(test.serial.skip as unknown as Declare, reason);
  return declare;
}

/** `test` when root-only tests can run, else a `test.skip` that names the reason in every title. */
export const rootTest: typeof test = rootSkipReason ? skippingTest(rootSkipReason) : test;
/** Serial variant of rootTest, for files whose tests share mutable state (e.g. polkit rules). */
export const rootSerial: typeof test.serial = rootTest.serial;
