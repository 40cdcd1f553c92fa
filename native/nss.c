/* Every uid and gid that NSS knows, so the allocator can keep namespace
 * ranges clear of them. Enumeration state is process-global in glibc:
 * call from one thread only (Node's main thread). */
#include "nsmount.h"
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>

#define START_BUF 16384
#define MAX_BUF (16 * 1024 * 1024)

/* Grows *buf on ERANGE; glibc does not advance past the entry that did
 * not fit, so the retry sees it again. */
static int grow(char **buf, size_t *size)
{
	char *n;
	if (*size >= MAX_BUF)
		return -ERANGE;
	n = realloc(*buf, *size * 2);
	if (!n)
		return -ENOMEM;
	*buf = n;
	*size *= 2;
	return 0;
}

/* Stores up to max uids in out and returns how many exist (may exceed
 * max: retry with a larger buffer). Duplicates are kept. */
NSM_EXPORT int nsm_nss_uids(uint32_t *out, int max)
{
	size_t size = START_BUF;
	char *buf = malloc(size);
	struct passwd pw, *res;
	int count = 0, r, ret = 0;

	if (!buf)
		return -ENOMEM;
	setpwent();
	for (;;) {
		r = getpwent_r(&pw, buf, size, &res);
		if (r == ERANGE) {
			if ((ret = grow(&buf, &size)) < 0)
				break;
			continue;
		}
		if (r == ENOENT || (r == 0 && !res))
			break;
		if (r != 0) {
			ret = -r;
			break;
		}
		if (count < max)
			out[count] = pw.pw_uid;
		count++;
	}
	endpwent();
	free(buf);
	return ret < 0 ? ret : count;
}

NSM_EXPORT int nsm_nss_gids(uint32_t *out, int max)
{
	size_t size = START_BUF;
	char *buf = malloc(size);
	struct group gr, *res;
	int count = 0, r, ret = 0;

	if (!buf)
		return -ENOMEM;
	setgrent();
	for (;;) {
		r = getgrent_r(&gr, buf, size, &res);
		if (r == ERANGE) {
			if ((ret = grow(&buf, &size)) < 0)
				break;
			continue;
		}
		if (r == ENOENT || (r == 0 && !res))
			break;
		if (r != 0) {
			ret = -r;
			break;
		}
		if (count < max)
			out[count] = gr.gr_gid;
		count++;
	}
	endgrent();
	free(buf);
	return ret < 0 ? ret : count;
}
