// Most tests need root (namespaces, mounts, other users) and the test
// users that scripts/test.js installs. Anywhere else they skip with a
// reason instead of failing confusingly; under CI=true scripts/test.js
// turns any skip into a failure.
import test from 'ava';

const IS_ROOT = process.getuid?.() === 0;
const IN_TEST_NAMESPACE = process.env.NSMOUNTD_TEST_NAMESPACE === '1';

/** Why root-only tests cannot run here, or undefined when they can. Hooks should return early when set. */
export const rootSkipReason: string | undefined = !IS_ROOT
  ? 'needs root'
  : !IN_TEST_NAMESPACE
    ? 'needs the test namespace: run through "npm test"'
    : undefined;

/** `test` when root-only tests can run, else `test.skip` (the reason is printed once per file). */
export const rootTest: typeof test = rootSkipReason ? (test.skip as unknown as typeof test) : test;
/** Serial variant of rootTest, for files whose tests share mutable state (e.g. polkit rules). */
export const rootSerial: typeof test.serial = rootSkipReason ? (test.serial.skip as unknown as typeof test.serial) : test.serial;

if (rootSkipReason) console.log(`# root-only tests skip: ${rootSkipReason}`);
