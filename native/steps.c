/* The words for each step a function reports through *failed_step, from
 * the same X-macro lists as the enums in nsmount.h, so TypeScript never
 * keeps a table that must match them by index. */
#include "nsmount.h"

#define NSM_STEP_WORDS(id, words) [id] = words,

static const char *const userns_steps[] = { NSM_USERNS_STEPS(NSM_STEP_WORDS) };
static const char *const fs_mount_steps[] = { NSM_FS_MOUNT_STEPS(NSM_STEP_WORDS) };
static const char *const lock_steps[] = { NSM_LOCK_STEPS(NSM_STEP_WORDS) };

static const char *step_words(const char *const *table, size_t count, int step)
{
	return step >= 0 && (size_t)step < count ? table[step] : NULL;
}

const char *nsm_userns_step_name(int step)
{
	return step_words(userns_steps, sizeof userns_steps / sizeof *userns_steps, step);
}

const char *nsm_fs_mount_step_name(int step)
{
	return step_words(fs_mount_steps, sizeof fs_mount_steps / sizeof *fs_mount_steps, step);
}

const char *nsm_lock_step_name(int step)
{
	return step_words(lock_steps, sizeof lock_steps / sizeof *lock_steps, step);
}
