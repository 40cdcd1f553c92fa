#include "nsmount.h"
#include <pwd.h>
#include <stdlib.h>

/* Primary group of a uid through NSS; -ENOENT when the uid has no entry. */
int64_t nsm_primary_gid(uint32_t uid)
{
	struct passwd pw, *result = NULL;
	char buf[16384];
	int r = getpwuid_r(uid, &pw, buf, sizeof(buf), &result);
	if (r != 0)
		return -r;
	if (!result)
		return -ENOENT;
	return (int64_t)pw.pw_gid;
}
