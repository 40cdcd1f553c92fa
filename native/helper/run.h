/* What the parts of nsmount-run share: the job Node sends (job.c), the
 * container's staging (stage.c), and the failure report (nsmount-run.c,
 * which also describes the protocol). */
#pragma once
#include <stdint.h>
#include <sys/types.h>

#define JOB_FD 3
#define REPORT_FD 4
#define MAX_BINDS 64
#define START_FAILED 125

struct bind {
	int fd; /* a mount from the daemon, or -1 */
	const char *source; /* a host path to clone, or NULL */
	int read_only;
	const char *target;
	int clone_fd;
};

struct job {
	int userns_fd, root_fd, mkroot_fd, container;
	char **argv, **envp;
	int argc, envc;
	struct bind binds[MAX_BINDS];
	int n_binds;
};

/* Reports the failed step on REPORT_FD and exits with START_FAILED. */
void __attribute__((noreturn)) fail(const char *step, int err, const char *detail);

/* Reads and checks the job from JOB_FD, then closes it. */
void parse_job(struct job *job);

/* openat2 below root_fd with RESOLVE_IN_ROOT, so no path leads out. */
int open_in_root(int root_fd, const char *path, uint64_t flags);
/* A fresh file system (tmpfs, proc) attached at `target_fd`; -1 and errno. */
int mount_fresh(const char *fstype, const char *mode, unsigned attrs, int target_fd);
/* New mount and pid namespaces with the rootfs, /dev, /tmp and binds in
 * place, entered by the helper; the init mounts /proc and pivots. */
void stage_container(struct job *job);

