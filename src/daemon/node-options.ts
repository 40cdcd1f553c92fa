// The V8 options nsmountd runs with. The installed launcher passes them
// (scripts/install-system.js), and so does the test stack, so the tests and
// the bench run the daemon as it is installed. `./bin/nsmountd` started by
// hand runs with V8's defaults: it works the same, holding more memory.
//
// --max-semi-space-size=1: under 16 concurrent callers V8 grew its young
//   generation to 2 x 16 MiB and kept it for good: RSS peaked at 115-127 MiB
//   and stayed near 110 MiB once idle. A call's garbage is a few KiB, so
//   1 MiB semi-spaces only mean more, shorter scavenges; the peak under the
//   same load fell to 74-89 MiB (docs/PERFORMANCE.md, memory).
// --expose-gc: for collectWhenIdle (src/daemon/idle-collect.ts) alone, which
//   collects once after a burst of calls so the old generation's garbage is
//   given back instead of held until the next burst.
export const DAEMON_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=1', '--expose-gc'];
