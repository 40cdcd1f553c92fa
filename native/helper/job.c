/* The job Node writes on JOB_FD: NUL-terminated key/value strings (the
 * keys are listed at the top of nsmount-run.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "run.h"

static char *read_all(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	if (!buf)
		fail("read the job", ENOMEM, NULL);
	for (;;) {
		if (n == cap && !(buf = realloc(buf, cap *= 2)))
			fail("read the job", ENOMEM, NULL);
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail("read the job", errno, NULL);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

static int parse_fd(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || (*end != '\0' && *end != '\t') || v < 0 || v > 1 << 20)
		fail("read the job", EINVAL, s);
	return (int)v;
}

void parse_job(struct job *job)
{
	size_t len, off = 0;
	char *buf = read_all(JOB_FD, &len);
	int ai = 0, ei = 0;

	close(JOB_FD);
	memset(job, 0, sizeof *job);
	job->userns_fd = job->root_fd = job->mkroot_fd = -1;
	if (len == 0 || buf[len - 1] != '\0')
		fail("read the job", EINVAL, "not NUL-terminated");
	job->argv = calloc(len / 2 + 1, sizeof(char *));
	job->envp = calloc(len / 2 + 1, sizeof(char *));
	if (!job->argv || !job->envp)
		fail("read the job", ENOMEM, NULL);
	while (off < len) {
		char *key = buf + off, *value;
		off += strlen(key) + 1;
		if (off >= len)
			fail("read the job", EINVAL, key);
		value = buf + off;
		off += strlen(value) + 1;
		if (!strcmp(key, "userns")) {
			job->userns_fd = parse_fd(value);
		} else if (!strcmp(key, "root")) {
			job->root_fd = parse_fd(value);
		} else if (!strcmp(key, "mkroot")) {
			job->mkroot_fd = parse_fd(value);
		} else if (!strcmp(key, "container")) {
			job->container = !strcmp(value, "1");
		} else if (!strcmp(key, "argv")) {
			job->argv[ai++] = value;
		} else if (!strcmp(key, "env")) {
			job->envp[ei++] = value;
		} else if (!strcmp(key, "bindfd") || !strcmp(key, "bindpath")) {
			struct bind *b = &job->binds[job->n_binds];
			char *tab = strchr(value, '\t');
			if (job->n_binds == MAX_BINDS || !tab)
				fail("read the job", EINVAL, value);
			b->fd = -1;
			b->clone_fd = -1;
			if (key[4] == 'f') {
				b->fd = parse_fd(value);
				b->target = tab + 1;
			} else {
				char *tab2 = strchr(tab + 1, '\t');
				if (!tab2)
					fail("read the job", EINVAL, value);
				*tab2 = '\0';
				b->read_only = value[0] == '1';
				b->source = tab + 1;
				b->target = tab2 + 1;
			}
			job->n_binds++;
		} else {
			fail("read the job", EINVAL, key);
		}
	}
	job->argc = ai;
	job->envc = ei;
	if (ai == 0 || job->userns_fd < 0 || job->root_fd < 0)
		fail("read the job", EINVAL, "userns, root and argv are required");
}
