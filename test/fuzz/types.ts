// Shapes shared by the fuzz client and the tests that run it.

/** Paths one fuzz client opens its fds from (written as JSON by run.ts). */
export interface FuzzEnv {
  /** The user's own directory: file.txt, link, fifo, nonempty/, foreign/ (foreign-owned). */
  home: string;
  /** Where the client makes fresh empty directories for AttachTo. */
  attachRoot: string;
  /** Another test user's directory. */
  otherUserDir: string;
  /** Foreign-owned, with no ancestor the caller owns. */
  foreignOrphan: string;
  tmp: string;
  /** A loop block device root set up over an image of the run. */
  loopDevice: string;
  /** Root-owned, in the daemon's configured image directory. */
  trustedImage: string;
  /** Images the user owns, outside any trusted directory. */
  images: { ext4: string; gpt: string; garbage: string; truncated: string; empty: string };
}

export interface FuzzProblem {
  seed: number;
  iteration: number;
  /** A call the client made to undo its own attachments, not a generated one. */
  cleanup: boolean;
  call: Record<string, unknown>;
  outcome: Record<string, unknown>;
  problem: string;
}

export interface FuzzSummary {
  seed: number;
  /** Generated calls. */
  iterations: number;
  /** Including cleanup calls. */
  calls: number;
  seconds: number;
  /** Count per error name, "ok:<member>" or outcome kind. */
  outcomes: Record<string, number>;
  problems: FuzzProblem[];
  /** The first error of the client's bus connection, if it had one. */
  connectionError?: string;
}

/** A saved case under test/fuzz/seeds/: replaying it runs the same calls again. */
export interface SeedFile {
  /** Why it is kept. */
  note: string;
  /** Which test user ran it: alice, bob, carol or dave. */
  user: string;
  seed: number;
  /** Calls to replay: up to and including the failing iteration. */
  count: number;
  concurrency: number;
  /** What went wrong when it was found, if anything did. */
  problem?: string;
}
