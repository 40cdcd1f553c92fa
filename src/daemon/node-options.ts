// The V8 options and environment nsmountd runs with. The installed launcher passes them
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

// The environment the daemon starts with, set before exec by the installed
// launcher, the systemd unit (Environment=) and the test stack alike: glibc
// reads it once, at start-up, and the daemon cannot change it for itself
// (mallopt(M_ARENA_MAX) is ignored once the first thread arena exists, and
// V8's threads make theirs before any of our code runs).
//
// MALLOC_ARENA_MAX=2: glibc gives each thread that mallocs its own arena, up
//   to 8 per core. Mount's image work runs on up to 16 libuv pool threads
//   (src/native/threadpool.ts); after a 16-client load 10 more arenas held
//   ~0.8 MiB resident each, for good: malloc_trim gives back free chunks but
//   never the top of a thread's arena. Idle RSS after the bench's load was
//   +11-13 MiB over fresh with glibc's default, +4.7 with 2 arenas (main +
//   one the other threads share), peak under load 101 -> 92 MiB
//   (docs/PERFORMANCE.md, Target 5). The pool threads' mallocs are few and
//   short, so sharing one arena costs them no measurable wait on 2 cores.
export const DAEMON_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
