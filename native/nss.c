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

/* One enumeration loop for both databases: stores up to max ids in out
 * and returns how many exist (may exceed max: retry with a larger
 * buffer). Duplicates are kept. */
#define NSS_ENUMERATE(name, entry_type, set, get_r, end, id_field)			\
int name(uint32_t *out, int max)						\
{											\
	size_t size = START_BUF;							\
	char *buf = malloc(size);							\
	entry_type entry, *res;								\
	int count = 0, r, ret = 0;							\
											\
	if (!buf)									\
		return -ENOMEM;								\
	set();										\
	for (;;) {									\
		r = get_r(&entry, buf, size, &res);					\
		if (r == ERANGE) {							\
			if ((ret = grow(&buf, &size)) < 0)				\
				break;							\
			continue;							\
		}									\
		if (r == ENOENT || (r == 0 && !res))					\
			break;								\
		if (r != 0) {								\
			ret = -r;							\
			break;								\
		}									\
		if (count < max)							\
			out[count] = entry.id_field;					\
		count++;								\
	}										\
	end();										\
	free(buf);									\
	return ret < 0 ? ret : count;							\
}

NSS_ENUMERATE(nsm_nss_uids, struct passwd, setpwent, getpwent_r, endpwent, pw_uid)
NSS_ENUMERATE(nsm_nss_gids, struct group, setgrent, getgrent_r, endgrent, gr_gid)

/* Non-enumerating lookups: sources that do not enumerate (sss and ldap
 * with enumeration off, winbind, mymachines) still answer these. Return 1
 * when NSS knows the id, 0 when every source says it does not, -errno when
 * a source could not answer (down, unreachable): then nobody can tell. */
#define NSS_KNOWN(name, entry_type, get_r, id_type)					\
int name(uint32_t id)							\
{											\
	size_t size = START_BUF;							\
	char *buf = malloc(size);							\
	entry_type entry, *res = NULL;							\
	int r, ret;									\
											\
	if (!buf)									\
		return -ENOMEM;								\
	for (;;) {									\
		r = get_r((id_type)id, &entry, buf, size, &res);			\
		if (r == ERANGE && (ret = grow(&buf, &size)) == 0)			\
			continue;							\
		if (r == ERANGE)							\
			break;								\
		ret = r != 0 ? -r : res ? 1 : 0;					\
		break;									\
	}										\
	free(buf);									\
	return ret;									\
}

NSS_KNOWN(nsm_nss_uid_known, struct passwd, getpwuid_r, uid_t)
NSS_KNOWN(nsm_nss_gid_known, struct group, getgrgid_r, gid_t)
