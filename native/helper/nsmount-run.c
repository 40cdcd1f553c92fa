/* nsmount-run: starts a command as uid 0 of a user namespace nsmountd
 * handed out, on mounts it made (nsmountctl run and import-tar). An
 * ordinary exec'd program, so libc and fork are safe here, unlike in a
 * child sharing Node's memory.
 *
 * Node spawns it with argv[0] "nsmount-init" and an empty environment (so
 * the container's pid 1, a fork of it, shows neither Node nor the bus), and
 * with these fds:
 *   0-2  the command's standard input, output and error
 *   3    the job: NUL-terminated key/value strings, read to EOF
 *   4    the report: "+" right before the command's exec, and on failure
 *        "step\0errno\0detail\0"; close-on-exec, so EOF once the command
 *        runs. Nothing at all: the helper died before it got that far.
 *   5..  the namespace and mount fds the job names by number
 *
 * Job keys: userns FD, root FD (a mount), container 0|1, mkroot FD (a
 * writable mount of the same tree, for missing /proc, /dev, /tmp), argv S
 * and env S (repeated, in order), bindfd "FD\tTARGET" (a mount from the
 * daemon), bindpath "RO\tSOURCE\tTARGET" (a host path cloned here; RO is
 * 0 or 1).
 *
 * Plain mode: enter the namespace, chdir into the root, exec.
 * Container mode:
 *   helper: enter the namespace, new mount + pid namespaces, stage the
 *     rootfs, /dev, /tmp and binds, fork the init, hand it the terminal,
 *     forward signals from Node to it, take the terminal back, exit with
 *     its status
 *   init (pid 1): mount /proc, pivot_root, fork the command, reap, forward
 *     signals sent on purpose, exit with the command's status */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../new_syscalls.h"
#include "run.h"

/* Signals Node forwards, and the init passes on. */
static const int FORWARDED[] = { SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH };

void __attribute__((noreturn)) fail(const char *step, int err, const char *detail)
{
	char buf[4200];
	int n = snprintf(buf, sizeof buf, "%s%c%d%c%s%c", step, 0, err, 0, detail ? detail : "", 0);
	if (n > (int)sizeof buf)
		n = sizeof buf;
	if (write(REPORT_FD, buf, (size_t)n) < 0) {
		/* Node learns of the failure from the exit status alone. */
	}
	_exit(START_FAILED);
}

static void become_root(const struct job *job)
{
	/* gid before uid: after dropping uid we could not change gid. */
	if (setns(job->userns_fd, CLONE_NEWUSER) < 0)
		fail("enter the user namespace", errno, NULL);
	if (setgroups(0, NULL) < 0)
		fail("drop supplementary groups", errno, NULL);
	if (setresgid(0, 0, 0) < 0)
		fail("become gid 0", errno, NULL);
	if (setresuid(0, 0, 0) < 0)
		fail("become uid 0", errno, NULL);
}

/* The command's own process: default signal handling, nothing blocked. */
static void __attribute__((noreturn)) exec_command(const struct job *job)
{
	extern char **environ;
	sigset_t none;
	size_t i;

	for (i = 1; i < NSIG; i++)
		signal((int)i, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Only the standard fds reach the command (the report fd is
	 * close-on-exec already: its EOF tells Node the command runs). */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	/* execvp searches the PATH of the command's own environment. */
	environ = job->envp;
	if (write(REPORT_FD, "+", 1) < 0) {
		/* Node then reads a failure without the marker: still a failure. */
	}
	execvp(job->argv[0], job->argv);
	fail("execute the command", errno, job->argv[0]);
}

static int signal_fd(int include_chld)
{
	sigset_t set;
	size_t i;
	int fd;

	sigemptyset(&set);
	for (i = 0; i < sizeof FORWARDED / sizeof FORWARDED[0]; i++)
		sigaddset(&set, FORWARDED[i]);
	if (include_chld)
		sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (fd < 0)
		fail("signalfd", errno, NULL);
	return fd;
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* pid 1 of the container. */
static void __attribute__((noreturn)) container_init(const struct job *job)
{
	struct signalfd_siginfo si;
	pid_t child, pid;
	int proc, sfd, status;
	sigset_t all;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "nsmount-init");
	/* /proc of the new pid namespace: only a member can mount it. */
	proc = open_in_root(job->root_fd, "proc", O_PATH | O_DIRECTORY);
	if (proc < 0 || mount_fresh("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, proc) < 0)
		fail("mount /proc", errno, NULL);
	close(proc);
	/* pivot_root(".", ".") stacks the old root under the new one, so no
	 * put_old directory is needed in a possibly read-only rootfs. */
	if (fchdir(job->root_fd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		fail("pivot_root", errno, NULL);
	close(job->root_fd);
	/* Every signal through the signalfd: an init drops those it has no
	 * handler for, but blocked ones are queued. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	sfd = signalfd(-1, &all, SFD_CLOEXEC);
	if (sfd < 0)
		fail("signalfd", errno, NULL);
	child = fork();
	if (child < 0)
		fail("fork the command", errno, NULL);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sfd);
		exec_command(job);
	}
	close(REPORT_FD);
	for (;;) {
		if (read(sfd, &si, sizeof si) != sizeof si)
			continue;
		if (si.ssi_signo == SIGCHLD) {
			while ((pid = waitpid(-1, &status, WNOHANG | __WALL)) > 0)
				if (pid == child)
					_exit(exit_code(status));
			continue;
		}
		/* A terminal signals the whole foreground group, the command
		 * included: pass on only what was sent on purpose. */
		if (si.ssi_code != SI_KERNEL)
			kill(child, (int)si.ssi_signo);
	}
}

/* Hands the terminal's foreground to `pgrp`; SIGTTOU must not stop us
 * when we are the ones in the background. */
static void set_foreground(int tty, pid_t pgrp)
{
	sigset_t ttou, old;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	if (tcsetpgrp(tty, pgrp) < 0) {
		/* Not our terminal's foreground to give: leave it. */
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(void)
{
	struct job job;
	struct signalfd_siginfo si;
	pid_t parent = getppid(), init;
	int sfd, status, tty = -1;

	if (fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC) < 0)
		_exit(START_FAILED);
	parse_job(&job);
	sfd = signal_fd(1);
	become_root(&job);
	/* After the credential change, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(START_FAILED);
	if (!job.container) {
		if (fchdir(job.root_fd) < 0)
			fail("enter the directory", errno, NULL);
		close(job.root_fd);
		close(job.userns_fd);
		close(sfd);
		exec_command(&job);
	}
	stage_container(&job);
	if (isatty(0) && tcgetpgrp(0) == getpgrp())
		tty = 0;
	init = fork();
	if (init < 0)
		fail("start the init", errno, NULL);
	if (init == 0) {
		close(sfd);
		/* Its own process group, in the terminal's foreground: job
		 * control and Ctrl-C reach the command, not nsmountctl. */
		setpgid(0, 0);
		if (tty >= 0)
			set_foreground(tty, getpid());
		container_init(&job);
	}
	setpgid(init, init);
	if (tty >= 0)
		set_foreground(tty, init);
	close(REPORT_FD);
	close(job.root_fd);
	close(job.userns_fd);
	for (;;) {
		if (read(sfd, &si, sizeof si) != sizeof si)
			continue;
		if (si.ssi_signo == SIGCHLD) {
			if (waitpid(init, &status, WNOHANG) == init)
				break;
			continue;
		}
		/* Node forwards what nsmountctl was sent; the same signal sent
		 * to nsmountctl's whole group reaches us too: pass it on once. */
		if ((pid_t)si.ssi_pid == parent)
			kill(init, (int)si.ssi_signo);
	}
	if (tty >= 0)
		set_foreground(tty, getpgrp());
	return exit_code(status);
}
