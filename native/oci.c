/* oci.c — namespace joins, the create/start split and the detached launcher (see oci.h). */
#define _GNU_SOURCE
#include "oci.h"

#include "events.h"
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int fifo_fd = -1;

/* fd names the mount namespace the caller is in now (same nsfs inode). */
static int same_namespace(int fd)
{
	struct stat given, own;
	if (fstat(fd, &given) || stat("/proc/self/ns/mnt", &own))
		die_step(EXIT_CORDON, "join namespace", "/proc/self/ns/mnt", NULL, errno);
	return given.st_dev == own.st_dev && given.st_ino == own.st_ino;
}

static void join(const struct plan *p, int mount)
{
	/* A view in a joined mount namespace is built in a private copy of it and the sandbox
	 * comes back with the view as a detached root (OP_LEAVE_MOUNT_NS): the namespace's own
	 * mounts, their propagation and its root stay as they were for whoever else lives there. */
	int copy = mount && p->has_root && p->leave_mount;
	for (size_t i = 0; i < p->n_ops; i++) {
		const struct plan_op_rec *op = &p->ops[i];
		if (op->code != OP_SETNS || (op->a == CLONE_NEWNS) != mount)
			continue;
		int fd = open(op->s1, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die_step(EXIT_CORDON, "join namespace", op->s1, NULL, errno);
		if (mount && p->has_root && same_namespace(fd))
			die_msg("join namespace %s: it is the launcher's own mount namespace, "
				"where a "
				"filesystem view would replace the host's root; give the container "
				"a "
				"mount namespace of its own",
				op->s1);
		if (setns(fd, (int)op->a))
			die_step(EXIT_CORDON, "join namespace", op->s1, NULL, errno);
		if (!copy) {
			close(fd);
			continue;
		}
		view_set_return_ns(fd);
		if (unshare(CLONE_NEWNS))
			die_step(EXIT_CORDON, "copy the joined mount namespace", op->s1, NULL,
				 errno);
	}
}

void oci_join_namespaces(const struct plan *p)
{
	join(p, 0);
}

void oci_join_mount(const struct plan *p)
{
	/* Opened before the join: the path (/proc/PID/root) is the launcher's view of the process. */
	int root = -1;
	if (p->enter_root) {
		root = open(p->enter_root->s1, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			die_step(EXIT_CORDON, "open the container's root", p->enter_root->s1, NULL,
				 errno);
	}
	join(p, 1);
	/* The container's root is a detached view, not its mount namespace's root (which setns
	 * gave us): its mounts are reached from it alone, and ".." stops at its top. */
	if (root >= 0 && (fchdir(root) || chroot(".") || chdir("/")))
		die_step(EXIT_CORDON, "enter the container's root", p->enter_root->s1, NULL, errno);
	if (root >= 0)
		close(root);
}

void oci_attach_device_filters(const struct plan *p)
{
	for (size_t i = 0; i < p->n_ops; i++) {
		const struct plan_op_rec *op = &p->ops[i];
		if (op->code != OP_CGROUP_DEVICES)
			continue;
		union bpf_attr a;
		memset(&a, 0, sizeof a);
		a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
		a.insns = (uint64_t)(uintptr_t)op->blob;
		a.insn_cnt = op->blob_len / 8;
		a.license = (uint64_t)(uintptr_t) "Apache-2.0";
		int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
		if (prog < 0) {
			int err = errno;
			if (err == EPERM)
				die_msg("device filter for %s: loading a cgroup device program "
					"needs "
					"CAP_SYS_ADMIN (or CAP_BPF) and a kernel with "
					"CONFIG_CGROUP_BPF: without it cordon-oci cannot enforce "
					"linux.resources.devices on cgroup v2; run it as root, or "
					"leave the device rules out",
					op->s1);
			die_step(EXIT_CORDON, "load the device filter", op->s1, NULL, err);
		}
		int cg = open(op->s1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg < 0)
			die_step(EXIT_CORDON, "attach the device filter", op->s1, NULL, errno);
		memset(&a, 0, sizeof a);
		a.target_fd = (uint32_t)cg;
		a.attach_bpf_fd = (uint32_t)prog;
		a.attach_type = BPF_CGROUP_DEVICE;
		/* Beside any program of a parent group (the engine's, Kubernetes' pod group): a device
		 * is usable only if every one allows it. The group holds the program once attached. */
		a.attach_flags = BPF_F_ALLOW_MULTI;
		if (syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof a))
			die_step(EXIT_CORDON, "attach the device filter", op->s1, NULL, errno);
		close(cg);
		close(prog);
	}
}

void oci_open_fifo(const char *path)
{
	/* O_PATH: opening a FIFO for writing would block here; the command reopens it through
	 * /proc/self/fd once its view (and its own /proc) is in place. */
	if (mkfifo(path, 0600))
		die_step(EXIT_CORDON, "make start fifo", path, NULL, errno);
	fifo_fd = open(path, O_PATH | O_CLOEXEC);
	if (fifo_fd < 0)
		die_step(EXIT_CORDON, "open start fifo", path, NULL, errno);
}

void oci_wait_start(int ready_fd)
{
	if (fifo_fd < 0)
		return;
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fifo_fd);
	if (write(ready_fd, "R", 1) != 1)
		die_step(EXIT_CORDON, "report ready", NULL, NULL, errno);
	int fd;
	do
		fd = open(path,
			  O_WRONLY | O_CLOEXEC); /* blocks until `start` opens it for reading */
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		if (errno == ENOENT)
			die_msg("wait for start: %s is missing: the container needs /proc mounted",
				path);
		die_step(EXIT_CORDON, "wait for start", path, NULL, errno);
	}
	if (write(fd, "0", 1) != 1)
		die_step(EXIT_CORDON, "wait for start", path, NULL, errno);
	close(fd);
	close(fifo_fd);
	fifo_fd = -1;
}

noreturn void oci_detach(pid_t pid, int exec_fd, const char *pid_file, int eof_ready)
{
	char byte = 0;
	ssize_t n;
	do
		n = read(exec_fd, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (eof_ready && n == 0)
		byte = 'R', n = 1; /* no start FIFO (`exec`): the pipe closed by its execve */
	if (n != 1 || byte != 'R') {
		/* 'F': the sandbox reported its failed step; EOF: it died before. Reap it either way. */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (n != 1)
			die_msg("the container exited before it was ready");
		_exit(EXIT_CORDON);
	}
	oci_write_pid(pid, pid_file);
	_exit(0);
}

/* Whole or not at all, as runc writes it: a reader that found the file between its creation and
 * the write read "" (run-foreground.ts took it for pid 0, and `state` said stopped for the whole
 * run). Written beside it as .NAME, then renamed over it. */
void oci_write_pid(pid_t pid, const char *pid_file)
{
	if (!pid_file)
		return;
	char num[32], tmp[PATH_MAX];
	int len = snprintf(num, sizeof num, "%d", (int)pid);
	const char *slash = strrchr(pid_file, '/');
	size_t dir_len = slash ? (size_t)(slash - pid_file + 1) : 0;
	int fd = -1;
	if ((size_t)snprintf(tmp, sizeof tmp, "%.*s.%s", (int)dir_len, pid_file,
			     pid_file + dir_len) >= sizeof tmp)
		errno = ENAMETOOLONG;
	else
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write(fd, num, (size_t)len) != len || close(fd) || rename(tmp, pid_file)) {
		int err = errno;
		unlink(tmp);
		kill(pid, SIGKILL);
		die_step(EXIT_CORDON, "write pid file", pid_file, NULL, err);
	}
}
