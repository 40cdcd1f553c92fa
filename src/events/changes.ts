// What changed in the daemon's state, for whoever announces it (the bus
// broadcasts them as Manager signals). An event names the owner and the
// kernel's id of the thing, never a path or a name: a broadcast reaches
// every subscriber, and paths and names are only for those who may list
// them.
export type ChangeEvent =
  | { kind: 'mount-added' | 'mount-removed'; ownerUid: number; mountId: string }
  | { kind: 'user-namespace-allocated' | 'user-namespace-reclaimed'; ownerUid: number; namespaceId: string };

export type ChangeListener = (event: ChangeEvent) => void;

/**
 * Events of one registry update, announced only once the update is
 * written: a failed write changed nothing, so it announces nothing.
 */
export class PendingChanges {
  private events: ChangeEvent[] | undefined;

  constructor(private readonly listener?: ChangeListener) {}

  add(event: ChangeEvent): void {
    this.events?.push(event);
  }

  /** Runs `update`, collecting what it adds, and announces that if it returns. */
  around<T>(update: () => T): T {
    const outer = this.events;
    const events: ChangeEvent[] = [];
    this.events = events;
    let result: T;
    try {
      result = update();
    } finally {
      this.events = outer;
    }
    if (outer) outer.push(...events);
    else for (const event of events) this.listener?.(event);
    return result;
  }
}
