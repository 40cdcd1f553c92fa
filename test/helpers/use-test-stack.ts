// One shared stack per ava test file:
//
//   const stack = useTestStack({ rules: '...' });
//   rootTest('...', async (t) => { await callAs(alice, stack.address, ...); });
import test from 'ava';
import { rootSkipReason } from './root';
import { startTestStack, type TestStack, type TestStackOptions } from './stack';

/** How many of the daemon's last lines a failed test prints. */
const LOG_LINES_ON_FAILURE = 80;

/**
 * Registers this file's hooks for one shared stack: started before its
 * tests (unless root-only tests skip here), stopped after them, and the
 * daemon's last lines printed when a test fails. The start and stop hooks
 * are serial, so a file's own before (after) hooks declared above the call
 * finish before the stack starts (stops), and those declared below it begin
 * after. Options may be a function, called in the start hook, for options
 * that depend on fixtures an earlier hook made. Returns the stack; using it
 * before it started throws.
 */
export function useTestStack(options: TestStackOptions | (() => TestStackOptions) = {}): TestStack {
  let current: TestStack | undefined;
  test.serial.before(async () => {
    if (rootSkipReason) return;
    current = await startTestStack(typeof options === 'function' ? options() : options);
  });
  test.afterEach.always((t) => {
    if (t.passed || !current) return;
    // Tests of a file may overlap: the lines may include a neighbour's.
    const lines = current.daemon.logs.slice(-LOG_LINES_ON_FAILURE);
    process.stderr.write(`--- nsmountd's last ${lines.length} log lines, after "${t.title}" failed ---\n${lines.join('\n')}\n--- end of nsmountd's log ---\n`);
  });
  test.serial.after.always(async () => {
    await current?.stop();
  });
  return new Proxy({} as TestStack, {
    get(_, key) {
      if (!current) throw new Error('the test stack is not running: its start hook has not run, or failed');
      return Reflect.get(current, key);
    },
  });
}
