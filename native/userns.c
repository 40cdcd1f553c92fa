/* User namespaces: made for an owner with the maps we write, and their
 * maps read back, each through a short-lived child (userns_child.h says
 * why and how). */
#include "nsmount.h"
#include "userns_child.h"
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_proc_file(pid_t pid, const char *name, const char *text)
{
	char path[64];
	size_t len = strlen(text);
	ssize_t n;
	int fd, ret = 0;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return NSM_NEG_ERRNO();
	/* A map must be written in one write(2). */
	n = write(fd, text, len);
	if (n < 0)
		ret = NSM_NEG_ERRNO();
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

/* NUL-terminates; -ENOBUFS if the file does not fit. */
static int read_proc_file(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	size_t used = 0;
	ssize_t n;
	int fd, ret = 0;

	if (size == 0)
		return -ENOBUFS;
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NSM_NEG_ERRNO();
	for (;;) {
		if (used == size - 1) {
			ret = -ENOBUFS;
			break;
		}
		n = read(fd, buf + used, size - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = NSM_NEG_ERRNO();
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	close(fd);
	return ret;
}

struct create_ctx {
	const char *uid_map, *gid_map;
	bool deny_setgroups;
};

static int create_job(pid_t pid, int nsfd, void *ctx, int *step)
{
	const struct create_ctx *c = ctx;
	int r;

	if (nsfd < 0) { /* reported success but sent no fd */
		*step = NSM_USERNS_STEP_OPEN_NS;
		return -EBADMSG;
	}
	*step = NSM_USERNS_STEP_WRITE_UID_MAP;
	if ((r = write_proc_file(pid, "uid_map", c->uid_map)) < 0)
		return r;
	/* The kernel takes "deny" only while gid_map is still unwritten. */
	if (c->deny_setgroups) {
		*step = NSM_USERNS_STEP_WRITE_SETGROUPS;
		if ((r = write_proc_file(pid, "setgroups", "deny")) < 0)
			return r;
	}
	*step = NSM_USERNS_STEP_WRITE_GID_MAP;
	return write_proc_file(pid, "gid_map", c->gid_map);
}

/* Returns an fd to a new user namespace owned by owner_uid with the given
 * maps ("inside outside count\n" lines), written by us (root). setgroups
 * stays "allow" unless flags has NSM_USERNS_DENY_SETGROUPS. On failure
 * *failed_step (if not NULL) names the step. */
int nsm_userns_new(uint32_t owner_uid, uint32_t owner_gid,
			      const char *uid_map, const char *gid_map,
			      uint32_t flags, int *failed_step)
{
	struct child_args a = { .job = JOB_CREATE, .uid = owner_uid, .gid = owner_gid, .userns_fd = -1 };
	struct create_ctx c = { uid_map, gid_map, (flags & NSM_USERNS_DENY_SETGROUPS) != 0 };
	int step, ret, fd = -1;

	ret = userns_with_child(&a, create_job, &c, &step, &fd);
	if (ret < 0 && failed_step)
		*failed_step = step;
	return ret < 0 ? ret : fd;
}

struct read_ctx {
	char *uid_buf, *gid_buf;
	size_t uid_size, gid_size;
};

static int read_job(pid_t pid, int passed_fd, void *ctx, int *step)
{
	const struct read_ctx *c = ctx;
	int r;

	(void)passed_fd; /* the join child sends none */
	*step = NSM_USERNS_STEP_READ_UID_MAP;
	if ((r = read_proc_file(pid, "uid_map", c->uid_buf, c->uid_size)) < 0)
		return r;
	*step = NSM_USERNS_STEP_READ_GID_MAP;
	return read_proc_file(pid, "gid_map", c->gid_buf, c->gid_size);
}

/* Reads the maps of the user namespace behind userns_fd as NUL-terminated
 * text. We read them from outside the namespace, so the "outside" column
 * is in our own (the daemon's) user namespace, even for a nested one; the
 * child reading its own /proc/self/uid_map would show it in the parent of
 * the namespace instead. Opening another task's uid_map needs no ptrace
 * access (mode 0444, no ptrace check). */
int nsm_userns_read_maps(int userns_fd, uint8_t *uid_buf, size_t uid_size,
			 uint8_t *gid_buf, size_t gid_size, int *failed_step)
{
	struct child_args a = { .job = JOB_JOIN, .userns_fd = userns_fd };
	struct read_ctx c = { (char *)uid_buf, (char *)gid_buf, uid_size, gid_size };
	int step, ret;

	ret = userns_with_child(&a, read_job, &c, &step, NULL);
	if (ret < 0 && failed_step)
		*failed_step = step;
	return ret < 0 ? ret : 0;
}
