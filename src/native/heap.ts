import { nsm_malloc_trim } from './bindings';

/** Gives the C heap's free pages back to the kernel (glibc malloc_trim); true if there were any. */
export function trimCHeap(): boolean {
  return nsm_malloc_trim() === 1;
}
