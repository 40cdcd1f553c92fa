// A full collection frees a burst's garbage but leaves the old generation's
// pages half empty, and V8 unmaps a page only once nothing lives on it; it
// compacts them itself only later (its memory reducer, seconds after, and
// not every time). With compact-on-every-full-gc the collection moves the
// survivors together and the emptied pages go back at once. V8 reads the
// flag at each collection, so it is on for this one alone: the collections
// V8 starts under load stay as cheap as ever.
import v8 from 'node:v8';

/** Wraps V8's full collection (globalThis.gc under --expose-gc) into one that also compacts. */
export function compactingGc(gc: () => void): () => void {
  return () => {
    v8.setFlagsFromString('--compact-on-every-full-gc');
    try {
      gc();
    } finally {
      v8.setFlagsFromString('--no-compact-on-every-full-gc');
    }
  };
}
