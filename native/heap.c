#include "nsmount.h"
#include <malloc.h>

/* glibc keeps what free() returns for reuse; after a burst of calls that is
 * megabytes of resident memory in the main and per-thread arenas (libuv's
 * pool threads, koffi). malloc_trim gives the free pages of every arena back
 * to the kernel. Returns 1 if it gave any back, else 0. */
int nsm_malloc_trim(void)
{
	return malloc_trim(0);
}
