// What test/clients/mixed-load.ts calls and prints, shared with the runner
// (test/helpers/load-clients.ts) and the benchmark without loading the
// client itself, which runs on import.
export const METHODS = ['AllocateUserNamespace', 'ListUserNamespaces', 'MakeDirectory', 'IdmapDirectory', 'Mount', 'ListMounts'] as const;
export type LoadMethod = (typeof METHODS)[number];

export interface LoadClientOutput {
  samples: Partial<Record<LoadMethod, number[]>>;
  /** Answers that were not the documented success (the first few of them). */
  errors: Array<{ method: string; name: string; message: string }>;
  errorCount: number;
  calls: number;
  /** process.hrtime in ms (CLOCK_MONOTONIC): the timed part's bounds. */
  startMs: number;
  endMs: number;
}
